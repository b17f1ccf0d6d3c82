/**
 * A {@linkcode Spawner} for unit tests: processes that exist only in memory
 * and end when the test (or a signal) says so.
 *
 * @module
 */

import type { ExitInfo, RunResult, SpawnedProcess, Spawner } from "./spawner.ts";

/** A pretend process. */
export class FakeProcess implements SpawnedProcess {
  readonly pid: number;
  readonly argv: string[];
  /** Clock time it was spawned at. */
  readonly at: number;
  readonly status: Promise<ExitInfo>;
  /** Every signal sent to it, in order. */
  readonly signals: Deno.Signal[] = [];
  /** Signals that end it; a hung process ignores SIGTERM: set to ["SIGKILL"]. */
  fatal: Deno.Signal[] = ["SIGTERM", "SIGKILL"];
  #resolve!: (e: ExitInfo) => void;
  #exited = false;

  constructor(pid: number, argv: string[], at: number) {
    this.pid = pid;
    this.argv = argv;
    this.at = at;
    this.status = new Promise((r) => this.#resolve = r);
  }

  /** Whether it has ended. */
  get exited(): boolean {
    return this.#exited;
  }

  /** Ends it with `code` (or by `signal`). */
  exit(code: number, signal: Deno.Signal | null = null): void {
    if (this.#exited) return;
    this.#exited = true;
    this.#resolve({ code, signal });
  }

  kill(signal: Deno.Signal): void {
    if (this.#exited) return;
    this.signals.push(signal);
    if (this.fatal.includes(signal)) this.exit(128 + (signal === "SIGKILL" ? 9 : 15), signal);
  }
}

/** Spawns {@linkcode FakeProcess}es; `onSpawn` decides what each one does. */
export class FakeSpawner implements Spawner {
  readonly procs: FakeProcess[] = [];
  /** Commands given to `run` (config validation, restart commands). */
  readonly runs: string[][] = [];
  /** Called with each new process (e.g. to make it exit at once). */
  onSpawn: (p: FakeProcess) => void = () => {};
  /** When set, `spawn` throws it (a missing program). */
  spawnError: Error | undefined;
  /** What `run` answers. */
  runResult: RunResult = { code: 0, signal: null, output: "", timedOut: false };
  #nextPid = 1000;
  #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  spawn(argv: string[], _onLine: (line: string) => void): SpawnedProcess {
    if (this.spawnError !== undefined) throw this.spawnError;
    const p = new FakeProcess(this.#nextPid++, argv, this.#now());
    this.procs.push(p);
    this.onSpawn(p);
    return p;
  }

  run(argv: string[], _timeoutMs: number): Promise<RunResult> {
    this.runs.push(argv);
    return Promise.resolve(this.runResult);
  }

  signal(pid: number, signal: Deno.Signal): boolean {
    const p = this.procs.find((q) => q.pid === pid && !q.exited);
    p?.kill(signal);
    return p !== undefined;
  }
}
