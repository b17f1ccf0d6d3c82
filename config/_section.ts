/**
 * Reads one JSON object of the config, collecting problems instead of
 * stopping at the first.
 *
 * @module
 */

import { show } from "./_show.ts";

/**
 * Turns a raw JSON value into a typed value, or throws an Error whose message
 * is `expected <what>, got <value>`.
 */
export type Check<T> = (value: unknown) => T;

/**
 * One JSON object at a key path (`""` for the top level, `spool`,
 * `inputs[1]`). Unknown keys and a value that is not an object are reported
 * when it is created; every getter falls back to a default after reporting.
 */
export class Section {
  /** The key path of this object, `""` for the top level. */
  readonly path: string;
  #values: Record<string, unknown>;
  #problems: string[];

  /**
   * Wraps `value` (absent means `{}`), reporting into `problems` a value that
   * is not an object and every key not in `known`.
   */
  constructor(value: unknown, path: string, known: readonly string[], problems: string[]) {
    this.path = path;
    this.#problems = problems;
    this.#values = {};
    if (value === undefined) return;
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      const what = path === "" ? "a JSON object at the top level" : "an object";
      this.report(path, `expected ${what}, got ${show(value)}`);
      return;
    }
    this.#values = value as Record<string, unknown>;
    for (const key of Object.keys(this.#values)) {
      if (!known.includes(key)) {
        this.report(path, `unknown key ${show(key)} (known: ${known.join(", ")})`);
      }
    }
  }

  /** Adds the problem line `config: <path>: <message>`. */
  report(path: string, message: string): void {
    this.#problems.push(path === "" ? `config: ${message}` : `config: ${path}: ${message}`);
  }

  /** The key path of `key` inside this object. */
  pathOf(key: string): string {
    return this.path === "" ? key : `${this.path}.${key}`;
  }

  /** Whether `key` is present. */
  has(key: string): boolean {
    return Object.hasOwn(this.#values, key);
  }

  /** The raw value of `key`, `undefined` when absent. */
  raw(key: string): unknown {
    return this.has(key) ? this.#values[key] : undefined;
  }

  /** The object at `key` (absent means `{}`), checked against `known`. */
  section(key: string, known: readonly string[]): Section {
    return new Section(this.raw(key), this.pathOf(key), known, this.#problems);
  }

  /**
   * The objects of the array at `key` (or of `fallback` when absent), each
   * checked against `known`; `[]` after reporting a value that is not an array.
   */
  list(key: string, fallback: readonly unknown[], known: readonly string[]): Section[] {
    const value = this.has(key) ? this.raw(key) : fallback;
    if (!Array.isArray(value)) {
      this.report(this.pathOf(key), `expected an array of objects, got ${show(value)}`);
      return [];
    }
    return value.map((item, i) =>
      new Section(item, `${this.pathOf(key)}[${i}]`, known, this.#problems)
    );
  }

  /** The checked value of `key`, or `fallback` when it is absent or invalid. */
  get<T>(key: string, fallback: T, check: Check<T>): T {
    return this.has(key) ? (this.#check(key, check) ?? fallback) : fallback;
  }

  /** The checked value of `key`, or `undefined` when it is absent or invalid. */
  optional<T>(key: string, check: Check<T>): T | undefined {
    return this.has(key) ? this.#check(key, check) : undefined;
  }

  /**
   * The checked value of a required `key`; reports
   * `<path>: missing, expected <what>` when absent. `undefined` when absent or
   * invalid.
   */
  required<T>(key: string, what: string, check: Check<T>): T | undefined {
    if (this.has(key)) return this.#check(key, check);
    this.report(this.pathOf(key), `missing, expected ${what}`);
    return undefined;
  }

  /** Reports `key` as present where it is not allowed, with `why`. */
  forbid(key: string, why: string): void {
    if (this.has(key)) {
      this.report(this.pathOf(key), `${why}, got ${show(this.raw(key))} (remove it)`);
    }
  }

  #check<T>(key: string, check: Check<T>): T | undefined {
    try {
      return check(this.#values[key]);
    } catch (error) {
      this.report(this.pathOf(key), error instanceof Error ? error.message : String(error));
      return undefined;
    }
  }
}
