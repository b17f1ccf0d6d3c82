/**
 * The running agent: the data path (see `assemble`), the rsyslogd watchdog, the control socket,
 * metrics and systemd notifications; start, stop, reload and status.
 *
 * @module
 */

import {
  type Address,
  type Config,
  ConfigError,
  type InputConfig,
  MEMORY_TRIM_MS,
} from "../config/mod.ts";
import { type Clock, errorText, libc, type Logger, systemClock, VERSION } from "../ground/mod.ts";
import {
  buildStatus,
  type ControlHandlers,
  ControlServer,
  CounterHistory,
  Notifier,
  renderMetrics,
  SdNotify,
  serveMetrics,
  type Status,
  stuckLimitMs,
  type TapRequest,
  type TapSession,
} from "../control/mod.ts";
import type { Forwarder } from "../relay/mod.ts";
import { assemble, type AssembleOptions, type Input, type Parts } from "./assemble.ts";
import { planReload, type ReloadPlan } from "./plan_reload.ts";
import { rsyslogdRunning, Watchdog, type WatchdogOptions } from "../watchdog/mod.ts";

/** Options of {@linkcode Agent.start}. */
export interface AgentOptions {
  /** Re-reads the config for a reload (SIGHUP, `agent reload`); without it reload is refused. */
  load?: () => Promise<Config>;
  /** systemd notifications; default from `NOTIFY_SOCKET` and `WATCHDOG_USEC`. */
  notify?: SdNotify;
  /** Clock, spawner and restart tuning of the rsyslogd watchdog (tests, benchmarks). */
  watchdog?: WatchdogOptions;
  /** Time source of the buffer, forwarder, status and notifications; default the system clock. */
  clock?: Clock;
  /** Opens connections to collectors; default plain TCP or TLS per protocol (tests: in memory). */
  dial?: AssembleOptions["dial"];
  /** The spool's file operations; default the real file system (tests: a slow disk). */
  spoolFs?: AssembleOptions["spoolFs"];
}

/**
 * One agent. {@linkcode Agent.start} recovers the spool, binds every input and
 * the control socket, and starts forwarding; {@linkcode Agent.stop} stops
 * accepting, puts whatever is in memory or in hand into the spool, syncs it
 * and closes everything.
 *
 * @example
 * ```ts
 * import { Agent } from "./agent.ts";
 * import { parseConfig } from "../config/mod.ts";
 * import { Logger } from "../ground/mod.ts";
 *
 * const config = parseConfig("{}", "inline");
 * const agent = await Agent.start(config, new Logger(config.log));
 * await agent.stop();
 * ```
 */
export class Agent {
  #config: Config;
  #log: Logger;
  #clock: Clock;
  #dial: AssembleOptions["dial"];
  #spoolFs: AssembleOptions["spoolFs"];
  /** The data path; set by the start. */
  #parts: Parts | undefined;
  #startedAt: number;
  #forwarder!: Forwarder;
  #inputs: Input[] = [];
  #control: ControlServer | undefined;
  /** Counter samples over the last minute, for rates and recent drops. */
  #history: CounterHistory | undefined;
  #load: (() => Promise<Config>) | undefined;
  #notify: SdNotify;
  #metrics: Deno.HttpServer | undefined;
  #notifier: Notifier;
  #reloading: Promise<string> | undefined;
  #watchdog: Watchdog | undefined;
  #watchdogOptions: WatchdogOptions;
  /** Gives freed memory back every {@linkcode MEMORY_TRIM_MS}: a burst's peak is not kept. */
  #trimTimer: unknown;

  private constructor(config: Config, log: Logger, opts: AgentOptions) {
    this.#config = config;
    this.#log = log;
    this.#load = opts.load;
    this.#clock = opts.clock ?? systemClock;
    this.#dial = opts.dial;
    this.#spoolFs = opts.spoolFs;
    this.#startedAt = this.#clock.now();
    this.#notify = opts.notify ?? SdNotify.fromEnv();
    this.#watchdogOptions = opts.watchdog ?? {};
    this.#notifier = new Notifier(this.#notify, {
      stuckForMs: () => this.#forwarder.stuckForMs(),
      stuckLimitMs: () => stuckLimitMs(this.#config.collectors),
      summary: () => this.#summary(),
    }, this.#clock);
  }

  /** Starts an agent; throws with a message naming what failed and the fix. */
  static async start(config: Config, log: Logger, opts: AgentOptions = {}): Promise<Agent> {
    const agent = new Agent(config, log, opts);
    try {
      await agent.#start();
    } catch (e) {
      await agent.stop().catch(() => {});
      throw e;
    }
    return agent;
  }

  async #start(): Promise<void> {
    const cfg = this.#config;
    const parts = await assemble(cfg, this.#log, {
      clock: this.#clock,
      ...(this.#dial === undefined ? {} : { dial: this.#dial }),
      ...(this.#spoolFs === undefined ? {} : { spoolFs: this.#spoolFs }),
    });
    this.#parts = parts;
    this.#history = new CounterHistory(parts.counters, this.#clock);
    this.#forwarder = parts.forwarder;
    this.#inputs = parts.inputs;
    for (const input of this.#inputs) await input.listen();
    if (cfg.rsyslogd.mode !== "off") {
      // After the inputs: the canaries come back through them.
      this.#watchdog = new Watchdog(cfg.rsyslogd, this.#log, this.#watchdogOptions);
      parts.ingest.filter = this.#watchdog.filter;
      await this.#watchdog.start();
    }
    this.#control = new ControlServer(
      cfg.control.socket,
      cfg.control.group,
      this.#commands(),
      this.#log,
    );
    await this.#control.listen();
    this.#forwarder.start();
    this.#serveMetrics(cfg.control.metrics);
    this.#history.start();
    this.#trimMemory();
    const summary = this.#summary();
    await this.#notify.send(`READY=1\nSTATUS=${summary}`);
    this.#notifier.start(summary);
    this.#log.info(
      `agent ${VERSION}: ready: inputs ${this.#inputs.map((i) => i.name).join(", ")}; collectors ${
        cfg.collectors.map((c) => c.address.text).join(", ")
      }; spool ${cfg.spool.dir} (${cfg.spool.mode}); control ${cfg.control.socket}`,
    );
  }

  #trimMemory(): void {
    this.#trimTimer = this.#clock.setTimeout(() => {
      libc()?.malloc_trim?.(0n);
      this.#trimMemory();
    }, MEMORY_TRIM_MS);
  }

  /** The status document of the spec. */
  status(): Status {
    const now = this.#clock.now();
    const parts = this.#started;
    const lastMinute = this.#history!.lastMinute();
    return buildStatus({
      now,
      startedAt: this.#startedAt,
      collectors: this.#forwarder.status(),
      spool: parts.buffer.stats(now).spool,
      spoolProblem: parts.buffer.problem(now),
      inputs: this.#inputs.map((i) => ({
        name: i.name,
        problem: i.problem,
        lastReceivedAt: i.lastReceivedAt,
      })),
      // Managed: the watchdog knows; otherwise any rsyslogd on the host.
      rsyslogdRunning: () =>
        this.#watchdog === undefined
          ? rsyslogdRunning()
          : this.#watchdog.status().state === "running",
      counters: parts.counters,
      droppedLastMinute: lastMinute.dropped,
      deadLetters: {
        lastMinute: lastMinute.deadLettered,
        path: parts.deadLetters.path,
      },
      ...(this.#watchdog === undefined ? {} : {
        rsyslogd: this.#watchdog.status(),
        rsyslogdProblem: this.#watchdog.problem(),
      }),
    });
  }

  /**
   * Stops: inputs first (nothing new comes in), then the forwarder; what memory
   * and the forwarder hold goes into the spool, which is synced and closed.
   */
  async stop(): Promise<void> {
    await this.#notify.send("STOPPING=1");
    this.#notifier.stop();
    this.#history?.stop();
    this.#clock.clearTimeout(this.#trimTimer);
    await this.#metrics?.shutdown();
    // A child rsyslogd is ended while the inputs still listen: what it flushes
    // on SIGTERM reaches the spool instead of being lost.
    await this.#watchdog?.stop();
    // What senders have in flight is read and spooled before the inputs close.
    await Promise.all(this.#inputs.map((input) => input.drain()));
    this.#parts?.ingest.flush();
    await this.#forwarder?.stop();
    await this.#parts?.buffer.close();
    await this.#control?.close();
    this.#notify.close();
    const spooled = this.#parts?.buffer.stats().spool.messages ?? 0;
    this.#log.info(`agent: stopped; ${spooled} message(s) left in the spool`);
  }

  /**
   * Opens a tap (`agent tap`): a live copy of what the inputs receive, or with
   * `collector` of what is written to that collector entry, filtered by
   * `match` (text, or a regular expression with `regex`).
   *
   * @throws {Error} naming the inputs or collectors there are, when `input` or
   *   `collector` names none of them
   */
  tap(request: TapRequest): TapSession {
    const parts = this.#started;
    const { input, collector } = request;
    if (input !== undefined && !this.#inputs.some((i) => i.name === input)) {
      throw new Error(
        `tap: no input ${JSON.stringify(input)}; the inputs are ${
          this.#inputs.map((i) => i.name).join(", ")
        }`,
      );
    }
    const collectors = this.#forwarder.status().map((c) => c.address);
    if (collector !== undefined && !collectors.includes(collector)) {
      throw new Error(
        `tap: no collector ${JSON.stringify(collector)}; the collectors are ${
          collectors.join(", ")
        }`,
      );
    }
    const match = request.match === undefined
      ? undefined
      : request.regex === true
      ? new RegExp(request.match)
      : request.match;
    const tap = parts.taps.open({
      ...(input === undefined ? {} : { input }),
      ...(collector === undefined ? {} : { collector }),
      ...(match === undefined ? {} : { match }),
    });
    return {
      take: () => tap.take(),
      skipped: () => tap.skipped,
      close: () => parts.taps.close(tap),
    };
  }

  /** Messages per second over the last minute. */
  rates(): { received: number; forwarded: number; dropped: number } {
    return this.#history!.rates();
  }

  /** The data path of a started agent. */
  get #started(): Parts {
    if (this.#parts === undefined) throw new Error("agent: not started");
    return this.#parts;
  }

  /**
   * Re-reads the config (SIGHUP, `agent reload`) and applies it without losing a
   * queued message: inputs whose settings changed are rebound, collectors are
   * reconnected when their list changed (what the forwarder held goes first),
   * metrics and log settings follow. An invalid config is rejected: the running
   * one stays, and the error says why. Spool, rsyslogd and control socket
   * changes need a restart, and the answer says so. Reloads arriving while one
   * runs share its result.
   */
  reload(): Promise<string> {
    this.#reloading ??= this.#reload().finally(() => this.#reloading = undefined);
    return this.#reloading;
  }

  async #reload(): Promise<string> {
    if (this.#load === undefined) {
      throw new Error("reload: this agent was started without a config file");
    }
    let next: Config;
    try {
      next = await this.#load();
    } catch (e) {
      const why = e instanceof ConfigError ? e.problems.join("; ") : errorText(e);
      this.#log.error(`reload: rejected, the running config stays: ${why}`);
      throw new Error(`reload rejected, the running config stays: ${why}`);
    }
    const done: string[] = [];
    let plan: ReloadPlan;
    let inputs: InputPlan;
    try {
      plan = planReload(this.#config, next, this.#started.maxRecord);
      inputs = await this.#bindInputs(plan);
    } catch (e) {
      this.#log.error(`reload: rejected, the running config stays: ${errorText(e)}`);
      throw new Error(`reload rejected, the running config stays: ${errorText(e)}`);
    }
    await this.#notify.send("RELOADING=1");
    try {
      this.#log.configure(next.log);
      // Inputs: the new ones listen already; settings apply in place; then the old ones close.
      for (const [input, cfg] of inputs.changed) {
        input.reconfigure(cfg);
        done.push(`input ${input.name} settings applied`);
      }
      for (const input of inputs.fresh) done.push(`input ${input.name} listening`);
      for (const input of inputs.retired) {
        await input.drain();
        done.push(`input ${input.name} closed`);
      }
      this.#inputs = inputs.inputs;
      if (plan.collectors) {
        await this.#forwarder.stop();
        this.#forwarder = this.#started.forwarderFor(next.collectors);
        this.#forwarder.start();
        done.push(`collectors ${next.collectors.map((c) => c.address.text).join(", ")}`);
      }
      if (plan.metrics) {
        await this.#metrics?.shutdown();
        this.#metrics = undefined;
        this.#serveMetrics(next.control.metrics);
        done.push(`metrics ${next.control.metrics?.text ?? "off"}`);
      }
      const cur = this.#config;
      this.#config = {
        ...next,
        spool: cur.spool,
        rsyslogd: cur.rsyslogd,
        control: { ...next.control, socket: cur.control.socket, group: cur.control.group },
      };
    } catch (e) {
      this.#log.error(`reload: failed part way: ${errorText(e)}`);
      throw new Error(
        `reload failed part way (${done.join("; ") || "nothing applied"}): ${errorText(e)}`,
      );
    } finally {
      await this.#notify.send(`READY=1\nSTATUS=${this.#summary()}`);
    }
    const later = plan.atRestart;
    const summary = `reloaded: ${done.length > 0 ? done.join("; ") : "no changes to apply"}${
      later.length > 0 ? `; ${later.join(", ")} changes take effect at the next restart` : ""
    }`;
    this.#log.info(summary);
    return summary;
  }

  /**
   * Carries out the input steps of `plan`: the running inputs it keeps, and
   * new ones bound now, before anything closes. Throws, leaving every running
   * input as it was, when a bind fails.
   */
  async #bindInputs(plan: ReloadPlan): Promise<InputPlan> {
    const out: InputPlan = { inputs: [], changed: [], fresh: [], retired: [] };
    try {
      for (const step of plan.inputs) {
        if ("keep" in step) {
          const input = this.#inputs[step.keep]!;
          out.inputs.push(input);
          if (step.settings !== undefined) out.changed.push([input, step.settings]);
          continue;
        }
        const input = this.#started.inputFor(step.bind);
        await input.listen();
        out.fresh.push(input);
        out.inputs.push(input);
      }
    } catch (e) {
      for (const input of out.fresh) input.close();
      throw e;
    }
    out.retired = plan.retire.map((j) => this.#inputs[j]!);
    return out;
  }

  #serveMetrics(address: Address | undefined): void {
    if (address === undefined) return;
    this.#metrics = serveMetrics(
      address,
      () => renderMetrics(this.status(), this.#started.counters),
    );
  }

  /** One line for systemd's STATUS=. */
  #summary(): string {
    const s = this.status();
    const r = this.rates();
    return `${s.state}: ${Math.round(r.received)}/s in, ${
      Math.round(r.forwarded)
    }/s out; spool ${s.spool.messages}; ${
      s.collectors.filter((c) => c.state === "up").length
    }/${s.collectors.length} collector(s) up`;
  }

  /** The control socket's commands (requests already parsed by `parseControlRequest`). */
  #commands(): ControlHandlers {
    return {
      status: (request) =>
        Promise.resolve(
          request.detail === true ? { ...this.status(), rates: this.rates() } : this.status(),
        ),
      reload: () => this.reload(),
      rotate: () => {
        if (this.#watchdog === undefined) {
          return Promise.reject(
            new Error(
              'rotate: rsyslogd is not managed by the agent (rsyslogd.mode is "off"); set rsyslogd.mode to "child" or "external", or HUP rsyslogd yourself (/usr/lib/rsyslog/rsyslog-rotate)',
            ),
          );
        }
        return this.#watchdog.rotate();
      },
      tap: (request) => Promise.resolve(this.tap(request)),
      spool: () => Promise.resolve(this.#started.buffer.spoolFiles()),
    };
  }
}

/** What a reload does with the inputs ({@linkcode Agent.reload}). */
interface InputPlan {
  /** The inputs after the reload, in config order. */
  inputs: Input[];
  /** Running inputs whose settings change in place. */
  changed: [Input, InputConfig][];
  /** Inputs bound for this reload. */
  fresh: Input[];
  /** Running inputs the new config no longer has. */
  retired: Input[];
}
