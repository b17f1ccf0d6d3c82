/**
 * The command line's flags: `--name value`, `--name=value` and `--flag`, long
 * names only, `--` ending them. Written here rather than taken from
 * `node:util`'s `parseArgs`, whose load costs every command 6 MiB of resident
 * memory.
 *
 * @module
 */

/** The flags a command takes: a string takes a value, a boolean none. */
export type FlagKinds = Record<string, "string" | "boolean">;

/** What was given: each flag's value (absent when not given), and the rest in order. */
export interface Flags<K extends FlagKinds> {
  /** Each flag given, by name. */
  values: { [N in keyof K]?: K[N] extends "string" ? string : boolean };
  /** The arguments that are not flags. */
  positionals: string[];
}

/**
 * Parses `args` against `kinds`; throws on a flag it does not know, a string
 * flag without its value, a value given to a boolean flag, or a flag given twice.
 *
 * @example
 * ```ts
 * import { parseFlags } from "./flags.ts";
 * const { values, positionals } = parseFlags(["cat", "--tail", "5", "--json"], {
 *   tail: "string",
 *   json: "boolean",
 * });
 * // values: { tail: "5", json: true }; positionals: ["cat"]
 * ```
 */
export function parseFlags<const K extends FlagKinds>(args: readonly string[], kinds: K): Flags<K> {
  const values: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") ? arg.slice(2, eq < 0 ? undefined : eq) : "";
    const kind = Object.hasOwn(kinds, name) ? kinds[name] : undefined;
    if (kind === undefined) {
      const known = Object.keys(kinds).map((k) => `--${k}`).join(", ");
      throw new Error(
        `unknown option "${eq < 0 ? arg : arg.slice(0, eq)}" (${
          known === "" ? "this command takes none" : `known: ${known}`
        })`,
      );
    }
    if (Object.hasOwn(values, name)) throw new Error(`--${name} is given twice`);
    if (kind === "boolean") {
      if (eq >= 0) throw new Error(`--${name} takes no value, got "${arg.slice(eq + 1)}"`);
      values[name] = true;
    } else if (eq >= 0) {
      values[name] = arg.slice(eq + 1);
    } else {
      const value = args[i + 1];
      if (value === undefined || value.startsWith("--")) {
        throw new Error(`--${name} needs a value (--${name} VALUE or --${name}=VALUE)`);
      }
      values[name] = value;
      i++;
    }
  }
  return { values: values as Flags<K>["values"], positionals };
}
