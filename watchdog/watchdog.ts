/**
 * The watchdog: keeps rsyslogd alive, proves it processes messages with canary
 * probes, and makes log rotation's HUP safe.
 *
 * @module
 */

import {
  probeTargetText,
  ROTATE_RECOVER_MS,
  RSYSLOGD_KILL_DEADLINE_MS,
  type RsyslogdConfig,
} from "../config/mod.ts";
import { type Clock, errorText, type Logger, sleep, systemClock } from "../ground/mod.ts";
import { Canary } from "./canary.ts";
import { ChildKeeper } from "./_child_keeper.ts";
import { ExternalKeeper } from "./_external_keeper.ts";
import type { Keeper, KeeperEvents } from "./_keeper.ts";
import { ProbeSender } from "./_probe_sender.ts";
import { RestartPolicy, type RestartPolicyOptions } from "./restart_policy.ts";
import type { RsyslogdStatus } from "./rsyslogd_status.ts";
import { processSpawner, type Spawner } from "./spawner.ts";

/** Injectable parts and tuning of a {@linkcode Watchdog}; the defaults are the product's. */
export interface WatchdogOptions {
  /** Time source for probes, backoff and kill deadlines; default the system clock. */
  clock?: Clock;
  /** Starts and signals rsyslogd and `restartCommand`; default real processes. */
  spawner?: Spawner;
  /** Backoff and crash-loop tuning. */
  restart?: RestartPolicyOptions;
  /** SIGKILL this long after SIGTERM (default {@linkcode RSYSLOGD_KILL_DEADLINE_MS}). */
  killDeadlineMs?: number;
}

/** What `agent rotate` gets back when rsyslogd is proven healthy after the HUP. */
export interface RotateResult {
  /** The rsyslogd that is healthy now. */
  pid: number;
  /** Whether it had to be (or was being) restarted. */
  restarted: boolean;
  /** Round trip of the canary that proved it, in ms (0 with probe target `"none"`). */
  latencyMs: number;
  /** One sentence on what happened. */
  message: string;
}

/** Canaries are sent this often while waiting for the first one back (after a start, a HUP). */
const FAST_PROBE_SPACING_MS = 50;
/** After a HUP, a canary must come back within max(probe.timeoutMs, this). */
const ROTATE_PROOF_MIN_MS = 1000;
/** The HUP gets this long to take effect before the canary that proves rsyslogd survived it. */
const ROTATE_SETTLE_MS = 50;
/** With probe target "none", the process must still run this long after the HUP. */
const ROTATE_SETTLE_NO_PROBE_MS = 500;

type State = RsyslogdStatus["state"];

/**
 * Supervises rsyslogd in `child` or `external` mode (see SPEC.md).
 *
 * - **Process**: a {@linkcode ChildKeeper} or {@linkcode ExternalKeeper} brings
 *   it back when it is gone, with the backoff and crash-loop rules of
 *   {@linkcode RestartPolicy}.
 * - **Probe**: every `probe.intervalMs` a canary goes into rsyslogd at
 *   `probe.target` and must come back through the agent's inputs (the ingest
 *   calls {@linkcode Watchdog.filter}) within `probe.timeoutMs`;
 *   `probe.failures` misses in a row mean it is hung: it is killed and
 *   restarted. After every start canaries go out every 50 ms until one is back.
 * - **Rotate**: {@linkcode Watchdog.rotate} sends SIGHUP, then requires the
 *   same process alive and a canary back; otherwise rsyslogd is restarted and
 *   the rotate succeeds once the new one passes the probe.
 *
 * @example
 * ```ts
 * import { Watchdog } from "./watchdog.ts";
 * import { Counters } from "../relay/mod.ts";
 * import { Ingest } from "../relay/mod.ts";
 * import { Logger } from "../ground/mod.ts";
 * import { parseConfig } from "../config/mod.ts";
 *
 * const config = parseConfig('{"rsyslogd": {"mode": "child"}}', "inline");
 * const ingest = new Ingest(new Counters(), (batch) => console.log(`${batch.count} message(s)`));
 * const watchdog = new Watchdog(config.rsyslogd, new Logger(config.log));
 * ingest.filter = watchdog.filter;
 * await watchdog.start();
 * const result = await watchdog.rotate();
 * await watchdog.stop();
 * ```
 */
export class Watchdog {
  #cfg: RsyslogdConfig;
  #log: Logger;
  #clock: Clock;
  #policy: RestartPolicy;
  #keeper: Keeper;
  /** What the keeper does, for the log. */
  #where: string;
  #killDeadlineMs: number;
  #canary: Canary;
  #probing: boolean;
  /** `probe.target` as in the config file, for messages. */
  #targetText: string;
  #sender: ProbeSender | undefined;

  #state: State = "starting";
  #pid = 0;
  /** Bumped on every start; probes of an earlier process do not count. */
  #gen = 0;
  /** Aborted when the current process is gone. */
  #exitCtl = new AbortController();
  #restarts = 0;
  #waited = false;
  #lastExit = "";
  #lastRestartAt = 0;
  #lastRotateAt = 0;
  #probeOk = false;
  #lastOkAt = 0;
  #latencyMs = 0;
  #healthyGen = -1;
  #misses = 0;
  #confirming = -1;
  #problem = "";
  #killReason = "";
  #rotating = 0;
  #rotation: Promise<RotateResult> | undefined;
  #followUp: Promise<RotateResult> | undefined;

  #stopped = false;
  #stopCtl = new AbortController();
  #probeLoop: Promise<void> | undefined;

  /**
   * A watchdog for the rsyslogd of `cfg`; nothing runs until {@linkcode Watchdog.start}.
   *
   * @throws when `cfg.mode` is `"off"`
   */
  constructor(cfg: RsyslogdConfig, log: Logger, opts: WatchdogOptions = {}) {
    if (cfg.mode === "off") throw new Error('watchdog: rsyslogd.mode is "off": nothing to watch');
    this.#cfg = cfg;
    this.#log = log;
    this.#clock = opts.clock ?? systemClock;
    this.#killDeadlineMs = opts.killDeadlineMs ?? RSYSLOGD_KILL_DEADLINE_MS;
    this.#policy = new RestartPolicy(this.#clock, opts.restart);
    this.#canary = new Canary(this.#clock);
    this.#probing = cfg.probe.target.kind !== "none";
    this.#targetText = probeTargetText(cfg.probe.target);
    const events: KeeperEvents = {
      started: (pid) => this.#started(pid),
      exited: (pid, how) => this.#exited(pid, how),
      waiting: (delayMs, failure) => this.#waiting(delayMs, failure),
      unsure: (why) => this.#unsure(why),
    };
    const common = {
      killDeadlineMs: this.#killDeadlineMs,
      clock: this.#clock,
      spawner: opts.spawner ?? processSpawner,
      policy: this.#policy,
      log,
      events,
    };
    if (cfg.mode === "child") {
      this.#keeper = new ChildKeeper({ command: cfg.command, ...common });
      this.#where = `runs ${cfg.command.join(" ")}`;
    } else {
      const keeper = new ExternalKeeper({
        pidFile: cfg.pidFile,
        restartCommand: cfg.restartCommand,
        ...common,
      });
      this.#keeper = keeper;
      this.#where = `watches ${keeper.where}, restart command: ${cfg.restartCommand.join(" ")}`;
    }
  }

  /**
   * The ingest filter: true for a canary (consumed, not forwarded). Costs a
   * fixed number of byte comparisons at the end of each message.
   */
  get filter(): (src: Uint8Array, start: number, end: number) => boolean {
    return this.#canary.filter;
  }

  /**
   * Opens the probe's socket and starts keeping rsyslogd. Problems with
   * rsyslogd itself never throw (they are the `failed` state); only a probe
   * socket that cannot be created does.
   */
  async start(): Promise<void> {
    const c = this.#cfg;
    const target = c.probe.target;
    if (target.kind !== "none") {
      this.#sender = new ProbeSender(target, c.probe.timeoutMs);
      await this.#sender.open();
    }
    const probe = this.#probing
      ? `canary to ${this.#targetText} every ${c.probe.intervalMs} ms, timeout ${c.probe.timeoutMs} ms, hung after ${c.probe.failures} misses`
      : "no canary probe (probe.target is none)";
    this.#log.info(`watchdog: mode ${c.mode}: ${this.#where}; ${probe}`);
    this.#keeper.start();
    if (this.#probing) this.#probeLoop = this.#runProbes();
  }

  /** The `rsyslogd` block of the status document. */
  status(): RsyslogdStatus {
    const iso = (t: number) => t === 0 ? "" : new Date(t).toISOString();
    return {
      mode: this.#cfg.mode,
      state: this.#state,
      pid: this.#pid,
      restarts: this.#restarts,
      lastExit: this.#lastExit,
      lastRestartAt: iso(this.#lastRestartAt),
      lastRotateAt: iso(this.#lastRotateAt),
      probe: {
        ok: this.#probing ? this.#probeOk : this.#state === "running",
        lastOkAt: iso(this.#lastOkAt),
        latencyMs: this.#latencyMs,
      },
    };
  }

  /**
   * Why rsyslogd is failed, down or restarting (how it ended, the crash loop,
   * the rejected config), or, while it runs, why its probe fails; `""` when
   * nothing is wrong.
   */
  problem(): string {
    if (this.#state === "failed") return this.#problem;
    if (this.#state === "down" || this.#state === "restarting") {
      return this.#lastExit === "" ? "not running" : this.#lastExit;
    }
    if (this.#probing && this.#pid !== 0 && this.#misses > 0) {
      const p = this.#cfg.probe;
      return `${this.#misses} canar${
        this.#misses === 1 ? "y" : "ies"
      } in a row did not come back from ${this.#targetText} within ${p.timeoutMs} ms`;
    }
    return "";
  }

  /**
   * `agent rotate`: HUP rsyslogd, then prove it survived (same process alive
   * and a canary back); otherwise restart it and wait until the new one passes
   * the probe. Resolves when rsyslogd is healthy afterwards, rejects with what
   * happened when it is not. Rotates arriving while one runs coalesce into one
   * follow-up rotate, run when the current one ends, whose result they all get
   * (a file renamed after the running rotate's HUP needs another HUP).
   */
  rotate(): Promise<RotateResult> {
    const current = this.#rotation;
    if (current !== undefined) {
      this.#followUp ??= current.then(noop, noop).then(() => {
        this.#followUp = undefined;
        return this.rotate();
      });
      return this.#followUp;
    }
    this.#rotating++;
    const run: Promise<RotateResult> = this.#rotateOnce().finally(() => {
      this.#rotating--;
      if (this.#rotation === run) this.#rotation = undefined;
    });
    this.#rotation = run;
    return run;
  }

  /**
   * Stops watching. In child mode rsyslogd is ended (SIGTERM, SIGKILL after
   * the kill deadline) before this resolves; an external one is left alone.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#stopCtl.abort();
    const pid = this.#pid;
    if (this.#cfg.mode === "child" && pid !== 0) {
      this.#log.info(`watchdog: stopping rsyslogd (pid ${pid})`);
    }
    await this.#keeper.stop();
    await this.#probeLoop;
    await this.#sender?.close();
    this.#pid = 0;
    this.#state = "down";
    this.#log.info("watchdog: stopped");
  }

  // --- keeper events ---------------------------------------------------------

  #started(pid: number): void {
    this.#gen++;
    this.#exitCtl = new AbortController();
    this.#pid = pid;
    this.#misses = 0;
    this.#probeOk = false;
    if (this.#waited) {
      this.#waited = false;
      this.#restarts++;
      this.#lastRestartAt = this.#clock.now();
    }
    this.#state = this.#probing ? "starting" : "running";
    const verb = this.#cfg.mode === "child" ? "started" : "found";
    this.#log.info(
      `watchdog: ${verb} rsyslogd (pid ${pid})${
        this.#restarts > 0 ? `; restarts so far: ${this.#restarts}` : ""
      }`,
    );
    if (this.#probing) this.#confirm(this.#gen);
  }

  #exited(pid: number, how: string): void {
    this.#exitCtl.abort();
    const why = this.#killReason === "" ? "" : ` (${this.#killReason})`;
    this.#killReason = "";
    this.#pid = 0;
    this.#probeOk = false;
    this.#lastExit = `pid ${pid} ${how}${why}`;
    this.#state = "down";
    this.#log.warn(`watchdog: rsyslogd (pid ${pid}) ${how}${why}`);
  }

  #waiting(delayMs: number, failure: string | undefined): void {
    this.#waited = true;
    if (failure !== undefined) {
      this.#state = "failed";
      this.#problem = failure;
      this.#log.error(`watchdog: rsyslogd failed: ${failure}; next attempt in ${delayMs} ms`);
    } else {
      this.#state = "restarting";
      this.#log.warn(
        `watchdog: restarting rsyslogd in ${delayMs} ms (restart ${this.#policy.consecutive} in a row)`,
      );
    }
  }

  #unsure(why: string): void {
    this.#state = "failed";
    this.#problem = why;
    this.#log.error(`watchdog: rsyslogd failed: ${why}`);
  }

  // --- probing ----------------------------------------------------------------

  /** After a start: canaries every 50 ms until one is back, for up to max(timeout, interval). */
  async #confirm(gen: number): Promise<void> {
    this.#confirming = gen;
    const p = this.#cfg.probe;
    const deadline = Math.max(p.timeoutMs, p.intervalMs);
    const latency = await this.#roundTrip(deadline, FAST_PROBE_SPACING_MS, gen);
    if (this.#confirming === gen) this.#confirming = -1;
    if (this.#stopped || gen !== this.#gen) return;
    if (latency !== undefined) this.#passed(latency, gen);
    else await this.#missed(gen, `no canary came back within ${deadline} ms of the start`);
  }

  async #runProbes(): Promise<void> {
    const { intervalMs, timeoutMs } = this.#cfg.probe;
    let next = this.#clock.now() + intervalMs;
    while (!this.#stopped) {
      const wait = Math.max(0, next - this.#clock.now());
      if (!(await sleep(this.#clock, wait, this.#stopCtl.signal))) return;
      next = this.#clock.now() + intervalMs;
      const gen = this.#gen;
      if (this.#pid === 0 || this.#confirming === gen || this.#rotating > 0) continue;
      const latency = await this.#roundTrip(timeoutMs, timeoutMs, gen);
      if (this.#stopped || gen !== this.#gen || this.#rotating > 0) continue;
      if (latency !== undefined) this.#passed(latency, gen);
      else await this.#missed(gen, `canary did not come back within ${timeoutMs} ms`);
    }
  }

  /**
   * Sends a canary now and every `spacingMs` until one of them is back:
   * resolves with its round trip, or undefined after `deadlineMs`, when the
   * process `gen` is gone, or when stopping.
   */
  async #roundTrip(
    deadlineMs: number,
    spacingMs: number,
    gen: number,
  ): Promise<number | undefined> {
    const sender = this.#sender;
    if (sender === undefined || gen !== this.#gen || this.#stopped) return undefined;
    const ctl = new AbortController();
    const abort = () => ctl.abort();
    const exitSignal = this.#exitCtl.signal;
    exitSignal.addEventListener("abort", abort, { once: true });
    this.#stopCtl.signal.addEventListener("abort", abort, { once: true });
    const timer = this.#clock.setTimeout(abort, deadlineMs);
    const arrival = this.#canary.wait(this.#canary.nextSeq, ctl.signal);
    (async () => {
      while (!ctl.signal.aborted) {
        const { seq, token } = this.#canary.next();
        try {
          await sender.send(token);
        } catch (e) {
          this.#log.debug(
            `watchdog: canary ${seq} to ${this.#targetText}: ${errorText(e)}`,
          );
        }
        if (!(await sleep(this.#clock, spacingMs, ctl.signal))) break;
      }
    })();
    const latency = await arrival;
    ctl.abort();
    this.#clock.clearTimeout(timer);
    exitSignal.removeEventListener("abort", abort);
    this.#stopCtl.signal.removeEventListener("abort", abort);
    return latency;
  }

  #passed(latencyMs: number, gen: number): void {
    const hadMisses = this.#misses;
    this.#probeOk = true;
    this.#lastOkAt = this.#clock.now();
    this.#latencyMs = latencyMs;
    this.#misses = 0;
    this.#healthyGen = gen;
    if (this.#state === "starting") {
      this.#state = "running";
      this.#log.info(
        `watchdog: rsyslogd (pid ${this.#pid}) passes the probe: canary round trip ${latencyMs} ms`,
      );
    } else if (hadMisses > 0) {
      this.#log.info(
        `watchdog: rsyslogd (pid ${this.#pid}) passes the probe again: canary round trip ${latencyMs} ms`,
      );
    }
  }

  async #missed(gen: number, why: string): Promise<void> {
    this.#probeOk = false;
    this.#misses++;
    const { failures } = this.#cfg.probe;
    const pid = this.#pid;
    this.#log.warn(
      `watchdog: probe of rsyslogd (pid ${pid}): ${why} (${this.#misses} of ${failures} in a row)`,
    );
    if (this.#misses < failures || gen !== this.#gen || this.#stopped) return;
    this.#killReason = `hung: ${failures} probe(s) in a row failed`;
    // A process that never passed a probe is more often a forwarding rule that
    // is missing than a hang: say where to look.
    const hint = this.#healthyGen === gen
      ? ""
      : `; it has not passed a probe since it started: check that rsyslogd forwards every message to one of the agent's inputs (README: "Pointing rsyslog at the agent") and listens on ${this.#targetText}`;
    this.#log.error(
      `watchdog: rsyslogd (pid ${pid}) is hung: ${failures} probe(s) in a row failed; killing it (SIGTERM, SIGKILL after ${this.#killDeadlineMs} ms) to restart it${hint}`,
    );
    await this.#keeper.kill(this.#killReason);
    this.#killReason = "";
  }

  // --- rotate ------------------------------------------------------------------

  async #rotateOnce(): Promise<RotateResult> {
    if (this.#stopped) {
      throw new Error("rotate: the agent is stopping; run it again once the agent is back");
    }
    if (this.#pid === 0) {
      // Nothing to HUP: a new rsyslogd opens its files afresh.
      if (this.#state === "failed") {
        throw new Error(
          `rotate: rsyslogd is not running (failed: ${this.#problem}); nothing to HUP; see "agent status"`,
        );
      }
      this.#log.warn(`watchdog: rotate: rsyslogd is ${this.#state}; waiting for it to be back`);
      if (await this.#waitHealthy(ROTATE_RECOVER_MS)) {
        return this.#result(
          true,
          `rsyslogd was ${
            this.#lastExit === "" ? "not running" : this.#lastExit
          }; it is back as pid ${this.#pid} and passes the probe (no HUP needed: a new rsyslogd opens its files afresh)`,
        );
      }
      throw this.#notHealthy(`rsyslogd was not running`);
    }
    const pid = this.#pid;
    const gen = this.#gen;
    const exitSignal = this.#exitCtl.signal;
    this.#lastRotateAt = this.#clock.now();
    this.#keeper.signal("SIGHUP");
    this.#log.info(`watchdog: rotate: sent SIGHUP to rsyslogd (pid ${pid})`);
    // rsyslogd handles the HUP in its main thread while its inputs keep running: a
    // canary could pass through a process that is dying of it. So give the HUP
    // time to take effect first.
    await sleep(
      this.#clock,
      this.#probing ? ROTATE_SETTLE_MS : ROTATE_SETTLE_NO_PROBE_MS,
      exitSignal,
    );
    const proofMs = Math.max(this.#cfg.probe.timeoutMs, ROTATE_PROOF_MIN_MS);
    let latency: number | undefined;
    if (this.#probing && !exitSignal.aborted) {
      latency = await this.#roundTrip(proofMs, FAST_PROBE_SPACING_MS, gen);
    }
    if (this.#stopped) {
      throw new Error("rotate: the agent is stopping; run it again once the agent is back");
    }
    const same = gen === this.#gen && this.#pid === pid;
    if (same && (!this.#probing || latency !== undefined)) {
      if (latency !== undefined) this.#passed(latency, gen);
      const proof = latency !== undefined
        ? `canary round trip ${latency} ms`
        : `still running ${ROTATE_SETTLE_NO_PROBE_MS} ms later (probe.target is "none")`;
      const r = this.#result(false, `rsyslogd (pid ${pid}) survived the HUP: ${proof}`);
      this.#log.info(`watchdog: rotate: ${r.message}`);
      return r;
    }
    let what: string;
    if (same) {
      what =
        `rsyslogd (pid ${pid}) stayed up but no canary came back within ${proofMs} ms of the HUP`;
      this.#log.error(`watchdog: rotate: ${what}; restarting it`);
      this.#killReason = "no canary after the HUP";
      await this.#keeper.kill(this.#killReason);
      this.#killReason = "";
    } else {
      what = `rsyslogd died after the HUP (${this.#lastExit})`;
      this.#log.error(`watchdog: rotate: ${what}`);
    }
    if (await this.#waitHealthy(ROTATE_RECOVER_MS)) {
      const r = this.#result(
        true,
        `${what}; restarted as pid ${this.#pid}, which passes the probe`,
      );
      this.#log.warn(`watchdog: rotate: ${r.message}`);
      return r;
    }
    throw this.#notHealthy(what);
  }

  #result(restarted: boolean, message: string): RotateResult {
    return { pid: this.#pid, restarted, latencyMs: this.#probing ? this.#latencyMs : 0, message };
  }

  #notHealthy(what: string): Error {
    const why = this.#state === "failed" ? `: ${this.#problem}` : "";
    const e = new Error(
      `rotate: ${what}, and it is not healthy again within ${
        ROTATE_RECOVER_MS / 1000
      } s (state ${this.#state}${why}); see "agent status" and the agent's log`,
    );
    this.#log.error(`watchdog: ${e.message}`);
    return e;
  }

  #healthy(): boolean {
    return this.#pid !== 0 && (!this.#probing || this.#healthyGen === this.#gen);
  }

  /** Polls until rsyslogd is up and has passed the probe since it started; false after `ms`. */
  async #waitHealthy(ms: number): Promise<boolean> {
    const deadline = this.#clock.now() + ms;
    while (!this.#stopped && this.#clock.now() < deadline) {
      if (this.#healthy()) return true;
      if (this.#state === "failed" && this.#pid === 0) return false;
      await sleep(this.#clock, 20, this.#stopCtl.signal);
    }
    return this.#healthy();
  }
}

function noop(): void {}
