/**
 * `rsyslogd.mode = "external"`: rsyslogd belongs to someone else (systemd);
 * the agent watches it and runs `restartCommand` when it is gone.
 *
 * @module
 */

import { errorText, sleep } from "../ground/mod.ts";
import { RSYSLOGD_RESTART_COMMAND_TIMEOUT_MS } from "../config/mod.ts";
import type { Keeper, KeeperParts } from "./_keeper.ts";
import { isAlive, type ProcessId } from "./_proc.ts";
import { RsyslogdFinder } from "./_proc_identity.ts";

/** What an {@linkcode ExternalKeeper} needs. */
export interface ExternalKeeperOptions extends KeeperParts {
  /** `rsyslogd.pidFile`; when the file does not exist, the process list is searched. */
  pidFile: string;
  /** `rsyslogd.restartCommand`; a `systemctl restart UNIT` also says whose MainPID rsyslogd is. */
  restartCommand: string[];
}

/** How often the process is checked. */
const POLL_MS = 100;
/** After it vanished, this long for its owner (systemd's `Restart=`) to bring it back first. */
const GRACE_MS = 500;
/** After the restart command, this long for the new process to show up. */
const APPEAR_MS = 10_000;
/** While it cannot be told which process is rsyslogd, it is looked for again this often. */
const UNSURE_POLL_MS = 1000;

/**
 * Finds rsyslogd and proves it is rsyslogd ({@linkcode RsyslogdFinder}: the
 * MainPID of the systemd unit `restartCommand` restarts, else `pidFile`, else
 * the one process named rsyslogd), polls it every 100 ms, and when it is gone
 * (or was never found) waits the backoff (at least 500 ms, in which systemd
 * may restart it on its own), then runs `restartCommand` and waits up to 10 s
 * for the new process. Each time it is gone counts as a death for the
 * {@linkcode RestartPolicy}. When it cannot be told which of several
 * processes is the host's rsyslogd, nothing is signalled or restarted: the
 * state is failed, saying so, until it can. Signals go only to the process
 * found, while it still runs (same pid and start time).
 *
 * @example
 * ```ts
 * import { ExternalKeeper } from "./_external_keeper.ts";
 * import { RestartPolicy } from "./restart_policy.ts";
 * import { processSpawner } from "./spawner.ts";
 * import { systemClock } from "../ground/mod.ts";
 * import { Logger } from "../ground/mod.ts";
 *
 * const keeper = new ExternalKeeper({
 *   pidFile: "/run/rsyslogd.pid",
 *   restartCommand: ["systemctl", "restart", "rsyslog"],
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
 * ```
 */
export class ExternalKeeper implements Keeper {
  #o: ExternalKeeperOptions;
  #proc: ProcessId | undefined;
  #stopping = false;
  #abort = new AbortController();
  #loop: Promise<void> | undefined;
  #finder: RsyslogdFinder;

  constructor(opts: ExternalKeeperOptions) {
    this.#o = opts;
    this.#finder = new RsyslogdFinder(opts.pidFile, opts.restartCommand, opts.spawner);
  }

  /** Where rsyslogd is looked for, for the log. */
  get where(): string {
    return this.#finder.where;
  }

  /** {@inheritDoc Keeper.pid} */
  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  /** {@inheritDoc Keeper.start} */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** {@inheritDoc Keeper.signal} */
  signal(signal: Deno.Signal): boolean {
    return this.#proc !== undefined && this.#send(this.#proc, signal);
  }

  /** {@inheritDoc Keeper.kill} */
  async kill(_reason: string): Promise<void> {
    const proc = this.#proc;
    if (proc === undefined) return;
    const { clock, killDeadlineMs, log } = this.#o;
    this.#send(proc, "SIGTERM");
    this.#send(proc, "SIGCONT");
    if (!(await this.#goneWithin(proc, killDeadlineMs))) {
      log.warn(
        `watchdog: rsyslogd (pid ${proc.pid}) did not exit within ${killDeadlineMs} ms of SIGTERM; sending SIGKILL`,
      );
      this.#send(proc, "SIGKILL");
      await this.#goneWithin(proc, killDeadlineMs);
    }
    // The watch loop notices it is gone within one poll.
    const deadline = clock.now() + 2 * POLL_MS + 100;
    while (this.#proc === proc && !this.#stopping && clock.now() < deadline) {
      await sleep(clock, 10, this.#abort.signal);
    }
  }

  /** {@inheritDoc Keeper.stop} */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#abort.abort();
    // A restart command in progress is not waited for beyond a second.
    const timer = new AbortController();
    await Promise.race([this.#loop, sleep(this.#o.clock, 1000, timer.signal)]);
    timer.abort();
  }

  async #run(): Promise<void> {
    const { policy, events, log, clock } = this.#o;
    let told = "";
    while (!this.#stopping) {
      const found = await this.#finder.find();
      if (found.proc !== undefined) {
        told = "";
        const proc = found.proc;
        this.#proc = proc;
        policy.started();
        log.info(`watchdog: rsyslogd is pid ${proc.pid} (by ${found.via})`);
        events.started(proc.pid);
        while (!this.#stopping && isAlive(proc)) {
          await sleep(clock, POLL_MS, this.#abort.signal);
        }
        this.#proc = undefined;
        if (this.#stopping) return;
        events.exited(proc.pid, "is gone");
        continue;
      }
      if (found.why !== told) {
        told = found.why;
        if (found.ambiguous) events.unsure(found.why);
        else log.warn(`watchdog: rsyslogd is not running: ${found.why}`);
      }
      if (found.ambiguous) {
        await sleep(clock, UNSURE_POLL_MS, this.#abort.signal);
        continue;
      }
      const delay = Math.max(policy.died(), GRACE_MS);
      const o = policy.options;
      events.waiting(
        delay,
        policy.failing
          ? `crash loop: rsyslogd was gone ${policy.recentDeaths} times within ${
            o.windowMs / 1000
          } s; running the restart command every ${o.capMs / 1000} s until it stays up for ${
            o.stableMs / 1000
          } s`
          : undefined,
      );
      if (await this.#appears(delay)) continue;
      if (this.#stopping) return;
      await this.#restart();
      if (this.#stopping) return;
      if (!(await this.#appears(APPEAR_MS))) {
        log.error(
          `watchdog: no rsyslogd appeared within ${
            APPEAR_MS / 1000
          } s of the restart command (${this.#finder.where}); check rsyslogd.restartCommand and rsyslogd.pidFile`,
        );
      }
    }
  }

  /** Polls for a proven rsyslogd for up to `ms`; true when there is one, or it is unclear which. */
  async #appears(ms: number): Promise<boolean> {
    const { clock } = this.#o;
    const deadline = clock.now() + ms;
    for (;;) {
      if (this.#stopping) return false;
      if (clock.now() >= deadline) return false;
      await sleep(clock, Math.min(POLL_MS, deadline - clock.now()), this.#abort.signal);
      if (this.#stopping) return false;
      const found = await this.#finder.find();
      if (found.proc !== undefined || found.ambiguous) return true;
    }
  }

  /** Sends `signal` to `proc` only while it still runs: never to a process that reuses its pid. */
  #send(proc: ProcessId, signal: Deno.Signal): boolean {
    return isAlive(proc) && this.#o.spawner.signal(proc.pid, signal);
  }

  async #restart(): Promise<void> {
    const { restartCommand, spawner, log } = this.#o;
    const shown = restartCommand.join(" ");
    log.warn(`watchdog: running the restart command: ${shown}`);
    try {
      const r = await spawner.run(restartCommand, RSYSLOGD_RESTART_COMMAND_TIMEOUT_MS);
      const out = r.output === "" ? "" : `: ${r.output.split("\n").slice(0, 5).join(" | ")}`;
      if (r.timedOut) {
        log.error(
          `watchdog: restart command "${shown}" killed after ${RSYSLOGD_RESTART_COMMAND_TIMEOUT_MS} ms${out}`,
        );
      } else if (r.code !== 0) {
        log.error(`watchdog: restart command "${shown}" exited with code ${r.code}${out}`);
      } else {
        log.info(`watchdog: restart command "${shown}" done${out}`);
      }
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound ? "no such file" : errorText(e);
      log.error(
        `watchdog: cannot run the restart command "${shown}": ${why}; fix rsyslogd.restartCommand`,
      );
    }
  }

  async #goneWithin(proc: ProcessId, ms: number): Promise<boolean> {
    const deadline = this.#o.clock.now() + ms;
    while (isAlive(proc)) {
      if (this.#o.clock.now() >= deadline) return false;
      await sleep(this.#o.clock, 20);
    }
    return true;
  }
}
