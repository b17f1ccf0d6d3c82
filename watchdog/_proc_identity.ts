/**
 * Finding the host's rsyslogd in external mode, and proving that a pid is it
 * before anything is signalled.
 *
 * @module
 */

import { type ProcessId, processId, programOf, startedAt } from "./_proc.ts";
import type { Spawner } from "./spawner.ts";

/** What {@linkcode RsyslogdFinder.find} found: the process and how, or why there is none. */
export type Found =
  | { proc: ProcessId; via: string }
  | { proc: undefined; why: string; ambiguous: boolean };

/** `systemctl show` gets this long. */
const SYSTEMCTL_TIMEOUT_MS = 5000;
/** A process may have started this long after its pid file was written (clock granularity). */
const PID_FILE_SLACK_MS = 1000;

/**
 * Finds rsyslogd, in this order, and proves each pid before taking it:
 *
 * 1. Where systemd runs the host and `restartCommand` is a systemctl command
 *    (`systemctl restart rsyslog`): the MainPID of that unit
 *    (`rsyslog.service`); systemctl failing (no systemd) skips this way.
 * 2. The pid in `pidFile`, when it exists; it must have started no later than
 *    the file was written (else the file is stale and the pid reused).
 * 3. Only when there is no pid file: the one process named rsyslogd; with two
 *    or more (a local collector, say) none is picked, and the answer says so.
 *
 * A pid is rsyslogd when its program (`/proc/PID/exe`) is, or, where that
 * cannot be read, its name (`/proc/PID/comm`).
 *
 * @example
 * ```ts
 * import { RsyslogdFinder } from "./_proc_identity.ts";
 * import { processSpawner } from "./spawner.ts";
 *
 * const restart = ["systemctl", "restart", "rsyslog"];
 * const finder = new RsyslogdFinder("/run/rsyslogd.pid", restart, processSpawner);
 * const found = await finder.find();
 * if (found.proc === undefined) console.log(found.why);
 * ```
 */
export class RsyslogdFinder {
  #pidFile: string;
  #spawner: Spawner;
  #unit: { program: string; unit: string } | undefined;

  constructor(pidFile: string, restartCommand: string[], spawner: Spawner) {
    this.#pidFile = pidFile;
    this.#spawner = spawner;
    this.#unit = systemdUnit(restartCommand);
  }

  /** Where it looks, for the log. */
  get where(): string {
    const file =
      `${this.#pidFile} (or the one process named rsyslogd when that file does not exist)`;
    return this.#unit === undefined ? file : `${this.#unit.unit}'s MainPID, else ${file}`;
  }

  /** The host's rsyslogd, proven; or why there is none, or why it cannot be told which. */
  async find(): Promise<Found> {
    if (this.#unit !== undefined) {
      const found = await this.#mainPid(this.#unit);
      if (found !== undefined) return found;
    }
    return await this.#fromPidFile() ?? this.#byName();
  }

  async #mainPid(u: { program: string; unit: string }): Promise<Found | undefined> {
    let output: string;
    try {
      const r = await this.#spawner.run(
        [u.program, "show", "-p", "MainPID", "--value", u.unit],
        SYSTEMCTL_TIMEOUT_MS,
      );
      if (r.code !== 0 || r.timedOut || !/^\d+$/.test(r.output)) throw new Error(r.output);
      output = r.output;
    } catch {
      // Not systemd (or no systemctl): from now on, the pid file.
      this.#unit = undefined;
      return undefined;
    }
    const pid = Number(output);
    if (pid === 0) {
      return {
        proc: undefined,
        why: `${u.unit} has no main process (MainPID 0)`,
        ambiguous: false,
      };
    }
    return prove(pid, `${u.unit}'s MainPID`, undefined);
  }

  /** undefined when the pid file does not exist. */
  async #fromPidFile(): Promise<Found | undefined> {
    const file = this.#pidFile;
    let text: string;
    let mtime: number;
    try {
      mtime = (await Deno.stat(file)).mtime?.getTime() ?? Date.now();
      text = await Deno.readTextFile(file);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      return { proc: undefined, why: `cannot read ${file}: ${e}`, ambiguous: false };
    }
    const pid = Number(text.trim());
    if (!Number.isSafeInteger(pid) || pid <= 0) {
      return {
        proc: undefined,
        why: `${file} holds no pid (${JSON.stringify(text.trim())})`,
        ambiguous: false,
      };
    }
    return prove(pid, file, mtime);
  }

  async #byName(): Promise<Found> {
    const pids: number[] = [];
    try {
      for await (const entry of Deno.readDir("/proc")) {
        if (!/^\d+$/.test(entry.name)) continue;
        const pid = Number(entry.name);
        if (isRsyslogd(programOf(pid)) && processId(pid) !== undefined) pids.push(pid);
      }
    } catch (e) {
      return { proc: undefined, why: `cannot list /proc: ${e}`, ambiguous: false };
    }
    const file = this.#pidFile;
    if (pids.length === 0) {
      return { proc: undefined, why: `no ${file} and no process named rsyslogd`, ambiguous: false };
    }
    if (pids.length > 1) {
      pids.sort((a, b) => a - b);
      return {
        proc: undefined,
        why: `no ${file} and ${pids.length} processes named rsyslogd (pids ${
          pids.join(", ")
        }): cannot tell which is the host's, so none is watched or signalled; make the host's rsyslogd write ${file} (rsyslogd -i ${file}) or set rsyslogd.pidFile to the file it writes`,
        ambiguous: true,
      };
    }
    return prove(pids[0]!, "the one process named rsyslogd", undefined);
  }
}

/** The process `pid` when it is rsyslogd (started no later than `notAfter`, when given). */
function prove(pid: number, source: string, notAfter: number | undefined): Found {
  const p = processId(pid);
  if (p === undefined) {
    return {
      proc: undefined,
      why: `${source} names pid ${pid}, which is not running`,
      ambiguous: false,
    };
  }
  const program = programOf(pid);
  if (!isRsyslogd(program)) {
    const what = program.exe ?? `named "${program.comm}"`;
    return {
      proc: undefined,
      why: `${source} names pid ${pid}, which is ${what}, not rsyslogd`,
      ambiguous: false,
    };
  }
  const started = startedAt(p);
  if (notAfter !== undefined && started > notAfter + PID_FILE_SLACK_MS) {
    return {
      proc: undefined,
      why: `${source} names pid ${pid}, an rsyslogd that started (${
        new Date(started).toISOString()
      }) after the file was written (${
        new Date(notAfter).toISOString()
      }): the file is stale and the pid reused`,
      ambiguous: false,
    };
  }
  return { proc: p, via: source };
}

/** rsyslogd by its program, or by its name where the program cannot be read. */
function isRsyslogd(program: { exe: string | undefined; comm: string }): boolean {
  const { exe, comm } = program;
  return exe !== undefined
    ? exe.slice(exe.lastIndexOf("/") + 1) === "rsyslogd"
    : comm === "rsyslogd";
}

/** The unit a `systemctl restart UNIT` command restarts, and that systemctl. */
function systemdUnit(argv: string[]): { program: string; unit: string } | undefined {
  const i = argv.findIndex((a) => a.slice(a.lastIndexOf("/") + 1) === "systemctl");
  if (i < 0) return undefined;
  const [verb, unit] = argv.slice(i + 1).filter((a) => !a.startsWith("-"));
  if (verb === undefined || unit === undefined || !/start|restart|reload/.test(verb)) {
    return undefined;
  }
  return { program: argv[i]!, unit: unit.includes(".") ? unit : `${unit}.service` };
}
