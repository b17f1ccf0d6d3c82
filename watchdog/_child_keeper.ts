/**
 * `rsyslogd.mode = "child"`: the agent runs rsyslogd in the foreground and
 * restarts it whenever it exits.
 *
 * @module
 */

import { errorText, sleep } from "../ground/mod.ts";
import { describeExit, type Keeper, type KeeperParts } from "./_keeper.ts";
import type { SpawnedProcess } from "./spawner.ts";

/** What a {@linkcode ChildKeeper} needs. */
export interface ChildKeeperOptions extends KeeperParts {
  /** `rsyslogd.command`: program first. */
  command: string[];
  /**
   * The host's syslog socket, which a child rsyslogd's imuxsock replaces with
   * its own and removes when it exits; default `/dev/log`. Put back as it was
   * when the keeper stops.
   */
  devLog?: string;
}

/** `rsyslogd -N1` gets this long to check a config. */
const VALIDATE_TIMEOUT_MS = 30_000;

/**
 * Runs `command` as a child and brings it back when it exits, after the delay
 * the {@linkcode RestartPolicy} gives. When the command is rsyslogd, its config
 * is checked with `rsyslogd -N1 [-f FILE]` before the first start and before
 * every attempt in the failed state; a rejected config or a program that cannot
 * be run is the failed state at once (retried at the slowest pace).
 *
 * On a systemd host `/dev/log` is journald's: a symlink to
 * `/run/systemd/journal/dev-log`, made by systemd-journald-dev-log.socket. A
 * child rsyslogd (imuxsock without socket activation) replaces it with a socket
 * of its own and deletes that when it exits, which would leave the host
 * without `/dev/log` once the agent stops. So the keeper notes the symlink
 * before the first start and puts it back after the child's last exit.
 *
 * @example
 * ```ts
 * import { ChildKeeper } from "./_child_keeper.ts";
 * import { RestartPolicy } from "./restart_policy.ts";
 * import { processSpawner } from "./spawner.ts";
 * import { systemClock } from "../ground/mod.ts";
 * import { Logger } from "../ground/mod.ts";
 *
 * const keeper = new ChildKeeper({
 *   command: ["/usr/sbin/rsyslogd", "-n", "-iNONE", "-f", "/etc/rsyslog.conf"],
 *   killDeadlineMs: 5000,
 *   clock: systemClock,
 *   spawner: processSpawner,
 *   policy: new RestartPolicy(systemClock),
 *   log: new Logger({ level: "info", format: "text" }),
 *   events: {
 *     started: (pid) => console.log(`rsyslogd is pid ${pid}`),
 *     exited: (pid, how) => console.log(`pid ${pid} ${how}`),
 *     waiting: (delayMs) => console.log(`next attempt in ${delayMs} ms`),
 *     unsure: (why) => console.log(why),
 *   },
 * });
 * keeper.start();
 * await keeper.stop();
 * ```
 */
export class ChildKeeper implements Keeper {
  #o: ChildKeeperOptions;
  #proc: SpawnedProcess | undefined;
  #stopping = false;
  #abort = new AbortController();
  #loop: Promise<void> | undefined;
  /** Where {@linkcode ChildKeeperOptions.devLog} pointed before the first start (a symlink), else undefined. */
  #devLogTarget: string | undefined;

  constructor(opts: ChildKeeperOptions) {
    this.#o = opts;
  }

  /** {@inheritDoc Keeper.pid} */
  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  /** {@inheritDoc Keeper.start} */
  start(): void {
    if (this.#loop !== undefined) return;
    try {
      this.#devLogTarget = Deno.readLinkSync(this.#devLog);
    } catch {
      // Not a symlink (a socket of some other daemon, or nothing): left alone.
      this.#devLogTarget = undefined;
    }
    this.#loop = this.#run();
  }

  get #devLog(): string {
    return this.#o.devLog ?? "/dev/log";
  }

  /** {@inheritDoc Keeper.signal} */
  signal(signal: Deno.Signal): boolean {
    const proc = this.#proc;
    if (proc === undefined) return false;
    proc.kill(signal);
    return true;
  }

  /** {@inheritDoc Keeper.kill} */
  async kill(_reason: string): Promise<void> {
    const proc = this.#proc;
    if (proc === undefined) return;
    // SIGCONT too: a stopped (SIGSTOP) process only acts on SIGTERM once it runs.
    proc.kill("SIGTERM");
    proc.kill("SIGCONT");
    const timer = new AbortController();
    const exited = await Promise.race([
      proc.status.then(() => true),
      sleep(this.#o.clock, this.#o.killDeadlineMs, timer.signal).then(() => false),
    ]);
    timer.abort();
    if (!exited) {
      this.#o.log.warn(
        `watchdog: rsyslogd (pid ${proc.pid}) did not exit within ${this.#o.killDeadlineMs} ms of SIGTERM; sending SIGKILL`,
      );
      proc.kill("SIGKILL");
    }
    await proc.status;
  }

  /** {@inheritDoc Keeper.stop} */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#abort.abort();
    await this.kill("the agent is stopping");
    await this.#loop;
    await this.#restoreDevLog();
  }

  /** Puts back the `/dev/log` symlink the child replaced or removed (see the class). */
  async #restoreDevLog(): Promise<void> {
    const target = this.#devLogTarget;
    if (target === undefined) return;
    const path = this.#devLog;
    const now = await Deno.readLink(path).catch(() => undefined);
    if (now === target) return;
    try {
      const info = await Deno.lstat(path).catch(() => undefined);
      // Only what a child rsyslogd leaves: its socket, or nothing.
      if (info !== undefined && !info.isSocket) {
        this.#o.log.warn(
          `watchdog: ${path} is no longer the symlink to ${target} but not a socket either; left alone`,
        );
        return;
      }
      if (info !== undefined) await Deno.remove(path);
      await Deno.symlink(target, path);
      this.#o.log.info(
        `watchdog: ${path} -> ${target} put back (the child rsyslogd had replaced it)`,
      );
    } catch (e) {
      this.#o.log.error(
        `watchdog: cannot put back ${path} -> ${target}: ${
          errorText(e)
        }; the host has no ${path} until it is recreated (systemctl restart systemd-journald-dev-log.socket)`,
      );
    }
  }

  async #run(): Promise<void> {
    const { policy, events, spawner, log, command } = this.#o;
    let first = true;
    while (!this.#stopping) {
      if (first || policy.failing) {
        const problem = await this.#validate();
        if (this.#stopping) return;
        if (problem !== undefined) {
          await this.#wait(policy.cannotStart(), problem);
          continue;
        }
      }
      first = false;
      let proc: SpawnedProcess;
      let pid = 0;
      try {
        proc = spawner.spawn(command, (line) => log.info(`rsyslogd[${pid}]: ${line}`));
      } catch (e) {
        await this.#wait(policy.cannotStart(), this.#cannotRun(e));
        continue;
      }
      pid = proc.pid;
      this.#proc = proc;
      policy.started();
      events.started(pid);
      const exit = await proc.status;
      this.#proc = undefined;
      if (this.#stopping) return;
      events.exited(pid, describeExit(exit));
      const delay = policy.died();
      const o = policy.options;
      await this.#wait(
        delay,
        policy.failing
          ? `crash loop: ${policy.recentDeaths} exits within ${
            o.windowMs / 1000
          } s (last: pid ${pid} ${describeExit(exit)}); retrying every ${
            o.capMs / 1000
          } s until it runs for ${o.stableMs / 1000} s`
          : undefined,
      );
    }
  }

  async #wait(delayMs: number, failure: string | undefined): Promise<void> {
    this.#o.events.waiting(delayMs, failure);
    await sleep(this.#o.clock, delayMs, this.#abort.signal);
  }

  /** `rsyslogd -N1 [-f FILE]` when the command is rsyslogd: undefined when accepted, else why not. */
  async #validate(): Promise<string | undefined> {
    const program = this.#o.command[0] ?? "";
    if (program.slice(program.lastIndexOf("/") + 1) !== "rsyslogd") return undefined;
    const conf = configFileOf(this.#o.command);
    const argv = [program, "-N1", ...(conf === undefined ? [] : ["-f", conf])];
    let r;
    try {
      r = await this.#o.spawner.run(argv, VALIDATE_TIMEOUT_MS);
    } catch (e) {
      return this.#cannotRun(e);
    }
    if (r.code === 0 && !r.timedOut) return undefined;
    const file = conf ?? "/etc/rsyslog.conf";
    const lines = r.output.split("\n").map((l) => l.replace(/^rsyslogd:\s*/, "").trim())
      .filter((l) => l !== "" && !/config validation run|End of config validation/.test(l));
    for (const line of lines) this.#o.log.error(`rsyslogd -N1: ${line}`);
    const first = lines.find((l) => /error|could not|invalid|cannot|not /i.test(l)) ?? lines[0] ??
      (r.timedOut ? `no answer within ${VALIDATE_TIMEOUT_MS / 1000} s` : "no output");
    return `rsyslogd rejects its config ${file} ("${argv.join(" ")}" exited with code ${r.code}): ${
      first.replace(/\s*\[v8[^\]]*\]\s*$/, "")
    }; fix ${file} (check it with "${argv.join(" ")}") or rsyslogd.command`;
  }

  #cannotRun(e: unknown): string {
    const program = this.#o.command[0] ?? "";
    const why = e instanceof Deno.errors.NotFound
      ? "no such file"
      : e instanceof Deno.errors.PermissionDenied
      ? "permission denied (not executable?)"
      : errorText(e);
    return `cannot run ${program} (rsyslogd.command[0]): ${why}; install rsyslog or fix rsyslogd.command`;
  }
}

/** The file of `-f FILE` or `-fFILE` in an rsyslogd command line. */
function configFileOf(argv: string[]): string | undefined {
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-f") return argv[i + 1];
    if (a.startsWith("-f")) return a.slice(2);
  }
  return undefined;
}
