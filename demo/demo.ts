/**
 * `agent demo`: the incident the agent exists for, replayed on this machine
 * in about 20 seconds, with real processes in a temp dir.
 *
 * @module
 */

import { controlRequest, type Status } from "../control/mod.ts";
import {
  agentArgv,
  findProgram,
  freePort,
  killLeftovers,
  type LoggedChild,
  managedRsyslogConf,
  processesUsing,
  RsyslogCollector,
  SeqFileTally,
  spawnLogged,
  type UnixDgramSender,
} from "../testkit/mod.ts";
import {
  agentConfig,
  type DemoLayout,
  demoLayout,
  logrotateConf,
  standInScript,
} from "./_demo_conf.ts";
import { APP_TAG, demoApp } from "./_demo_app.ts";

/** Options of {@linkcode demo}; the defaults are what `agent demo` uses. */
export interface DemoOptions {
  /** Where the timeline and the report go (default: stdout). */
  write?: (text: string) => void;
  /** Redraw the progress line in place (default: whether stdout is a terminal). */
  terminal?: boolean;
  /** The rsyslogd binary (default: /usr/sbin/rsyslogd, /sbin/rsyslogd or on `$PATH`). */
  rsyslogd?: string;
  /** The logrotate binary (default: found like rsyslogd); `""` to rotate through the control socket. */
  logrotate?: string;
  /** Ends the demo early, cleaning up (default: SIGINT and SIGTERM do). */
  signal?: AbortSignal;
  /** Messages per second the application logs (default 2,000). */
  rate?: number;
}

const RSYSLOGD = ["/usr/sbin/rsyslogd", "/sbin/rsyslogd", "rsyslogd"];
const LOGROTATE = ["/usr/sbin/logrotate", "/sbin/logrotate", "logrotate"];

/** The timeline, in seconds after the application starts. */
const ROTATE_AT_S = 3;
const COLLECTOR_KILL_AT_S = 9;
const COLLECTOR_DOWN_S = 4;
/** The application keeps logging this long after the spool is empty again. */
const AFTER_DRAIN_S = 2;
/** It stops by then, drained or not. */
const APP_STOP_LATEST_S = 40;
/** Everything sent must be at the collector within this long after the application stops. */
const DELIVERY_DEADLINE_S = 20;
const POLL_MS = 50;

const encoder = new TextEncoder();

/**
 * Replays the incident: a collector rsyslogd, an rsyslogd that dies on
 * SIGHUP (a stand-in for the crash of rsyslog 4.6.2) supervised by the agent
 * in child mode, the agent as a child process, and an application logging
 * numbered messages into rsyslogd's socket. Then logrotate's HUP kills
 * rsyslogd, the collector is SIGKILLed and comes back, and a report says what
 * arrived. Prints a timeline as it happens and a progress line; cleans up
 * every process, also when interrupted. Resolves to the exit code: 0 when
 * nothing is missing, 1 when something is (or rsyslogd is not installed),
 * 130/143 when interrupted by SIGINT/SIGTERM.
 */
export async function demo(opts: DemoOptions = {}): Promise<number> {
  const write = opts.write ?? writeStdout;
  const rsyslogd = opts.rsyslogd ?? await findProgram(RSYSLOGD);
  if (rsyslogd === undefined || !(await isFile(rsyslogd))) {
    write(
      `agent demo: rsyslogd is not installed (looked for ${
        opts.rsyslogd ?? RSYSLOGD.join(", ")
      }); install it with "apt-get install rsyslog" (or, in this repository, "bash .ci/install") and run the demo again\n`,
    );
    return 1;
  }
  const logrotate = opts.logrotate ?? await findProgram(LOGROTATE) ?? "";
  const ctl = new AbortController();
  const listeners: [Deno.Signal, () => void][] = [];
  if (opts.signal === undefined) {
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      const on = () => ctl.abort(sig);
      Deno.addSignalListener(sig, on);
      listeners.push([sig, on]);
    }
  } else {
    opts.signal.addEventListener("abort", () => ctl.abort(opts.signal?.reason), { once: true });
  }
  const run = new DemoRun({
    write,
    terminal: opts.terminal ?? Deno.stdout.isTerminal(),
    rsyslogd,
    logrotate,
    signal: ctl.signal,
    rate: opts.rate ?? 2000,
  });
  try {
    return await run.run();
  } finally {
    for (const [sig, on] of listeners) Deno.removeSignalListener(sig, on);
  }
}

/** Thrown out of every wait when the demo is interrupted. */
class Interrupted extends Error {
  constructor(readonly reason: string) {
    super(`interrupted by ${reason}`);
  }
}

interface RunOptions {
  write: (text: string) => void;
  terminal: boolean;
  rsyslogd: string;
  logrotate: string;
  signal: AbortSignal;
  rate: number;
}

/** One run of the demo: its processes, what it has seen, and its output. */
class DemoRun {
  #o: RunOptions;
  #t0 = performance.now();
  #l!: DemoLayout;
  #collector: RsyslogCollector | undefined;
  #agent: LoggedChild | undefined;
  #app: UnixDgramSender | undefined;
  #tally!: SeqFileTally;
  #problems: string[] = [];

  // What the status polls have seen.
  #status: Status | undefined;
  #polling: Promise<void> | undefined;
  #stopPolling = false;
  #collectorUp = false;
  #rsPid = 0;
  #rsExit = "";
  #rsExitSeenAt = 0;
  #spoolSince = 0;
  #spooledMs = 0;
  #spoolPeak = 0;
  #episodePeak = 0;
  #drainStartedAt = 0;
  /** From the collector's SIGKILL until everything is drained. */
  #outageFrom = 0;
  /** While the rotation runs. */
  #rotating = false;
  /** When the application started. */
  #appFrom = 0;
  #outageTo = 0;
  /** After a reconnect: messages sent before it, all of which must reach the collector. */
  #drainTarget = 0;
  #lastDrainMs = 0;

  // The progress line.
  #progressTimer: ReturnType<typeof setInterval> | undefined;
  #progressShown = false;
  #rate = { at: 0, sent: 0, forwarded: 0, appRate: 0, outRate: 0 };

  constructor(o: RunOptions) {
    this.#o = o;
  }

  async run(): Promise<number> {
    const o = this.#o;
    this.#print(
      `agent demo: the incident, replayed on this machine (about 20 s; Ctrl-C stops it cleanly)\n` +
        `  The incident: rsyslogd died on a logrotate HUP; clients forwarded over TCP; the collector\n` +
        `  went away; every application calling syslog() hung. Here the agent sits between rsyslogd\n` +
        `  and the collector, and keeps rsyslogd alive.\n\n`,
    );
    const dir = await Deno.makeTempDir({ prefix: "agent-demo-" });
    try {
      this.#l = demoLayout(dir, o.rsyslogd, await freePort(), await freePort());
    } catch (e) {
      await Deno.remove(dir, { recursive: true });
      this.#print(`agent demo: ${e instanceof Error ? e.message : e}\n`);
      return 1;
    }
    this.#tally = new SeqFileTally(this.#l.received, `${APP_TAG}[`);
    let code = 1;
    let keep = false;
    try {
      code = await this.#replay();
      keep = code !== 0;
    } catch (e) {
      this.#progressOff();
      if (e instanceof Interrupted) {
        this.#print(
          `\n${this.#elapsed()}  ${e.message}: stopping the application, the agent (which stops rsyslogd) and the collector\n`,
        );
        code = e.reason === "SIGTERM" ? 143 : 130;
      } else {
        this.#print(`\nagent demo: ${e instanceof Error ? e.message : e}\n`);
        const log = await Deno.readTextFile(this.#l.agentLog).catch(() => "");
        if (log !== "") {
          this.#print(
            `--- the end of ${this.#l.agentLog}:\n${
              log.trimEnd().split("\n").slice(-12).join("\n")
            }\n`,
          );
        }
        code = 1;
        keep = true;
      }
    } finally {
      await this.#cleanup(keep);
    }
    return code;
  }

  /** The demo proper; resolves to 0 when nothing went missing. */
  async #replay(): Promise<number> {
    const l = this.#l;
    await this.#writeFiles();
    this.#line(`work dir ${l.dir} (removed at the end)`);

    // The collector.
    await this.#startCollector();
    this.#line(
      `collector: rsyslogd listening on 127.0.0.1:${l.collectorPort} (pid ${
        this.#collector!.pid
      }); keeps every message it receives`,
    );

    // The agent, which starts the rsyslogd it supervises.
    const [cmd, ...args] = agentArgv(["run", "--config", l.agentConf]);
    this.#agent = spawnLogged({ cmd: cmd!, args, logPath: l.agentLog, setsid: true });
    const st = await this.#until(
      async () => {
        const s = await this.#poll().catch(() => undefined);
        return s !== undefined && s.rsyslogd.state === "running" && s.rsyslogd.probe.ok &&
          s.collectors[0]?.state === "up" && s;
      },
      30_000,
      "the agent to start and rsyslogd to pass its probe",
    );
    this.#rsPid = st.rsyslogd.pid;
    this.#collectorUp = true;
    this.#line(
      `agent: pid ${this.#agent.pid}: input tcp 127.0.0.1:${l.agentPort}, collector 127.0.0.1:${l.collectorPort}, spool ${l.spool}`,
    );
    this.#line(
      `rsyslogd: pid ${st.rsyslogd.pid}, run and watched by the agent (child mode); a canary came back through it in ${st.rsyslogd.probe.latencyMs} ms`,
    );
    this.#note(
      "a stand-in: the real rsyslogd, under a shell that exits on SIGHUP, reproducing the HUP crash of rsyslog 4.6.2",
    );

    // The application.
    const app = this.#app = demoApp(l.socket, `${l.dir}/app.sock`, this.#o.rate);
    app.start();
    const t0 = this.#appFrom = performance.now();
    this.#line(
      `application: logging ${
        fmt(this.#o.rate)
      } numbered messages a second into rsyslogd's socket (as syslog() does into /dev/log)`,
    );
    this.#polling = this.#pollLoop();
    this.#progressOn();

    // 1. logrotate's HUP kills rsyslogd; the agent brings it back.
    await this.#sleepUntil(t0 + ROTATE_AT_S * 1000);
    await this.#rotate();

    // 2. The collector crashes; the spool takes over.
    await this.#sleepUntil(t0 + COLLECTOR_KILL_AT_S * 1000);
    const collector = this.#collector!;
    const killed = collector.pid;
    this.#outageFrom = performance.now();
    await collector.kill();
    this.#line(
      `collector: SIGKILL (pid ${killed}): the collector is gone; the application keeps logging`,
    );
    await this.#sleep(COLLECTOR_DOWN_S * 1000);

    // 3. The collector comes back; the spool drains.
    await this.#startCollector();
    this.#line(
      `collector: back on 127.0.0.1:${l.collectorPort} (pid ${
        this.#collector!.pid
      }); the agent retries with backoff (250 ms doubling to 10 s)`,
    );
    const latest = t0 + APP_STOP_LATEST_S * 1000;
    await this.#until(
      () =>
        (this.#collectorUp && this.#spoolSince === 0 && this.#drainTarget === 0 &&
          this.#lastDrainMs > 0) || performance.now() > latest,
      APP_STOP_LATEST_S * 1000,
      "the spool to drain",
    );
    await this.#sleepUntil(Math.min(latest, performance.now() + AFTER_DRAIN_S * 1000));
    await app.stop();
    this.#check();
    this.#line(`application: stopped after ${fmt(app.sent)} messages`);

    // Everything sent must arrive.
    const sent = app.sent;
    const all = await this.#until(
      async () => {
        await this.#tally.update();
        return this.#tally.tally.unique >= sent;
      },
      DELIVERY_DEADLINE_S * 1000,
      "every message at the collector",
    ).catch((e) => {
      if (e instanceof Interrupted) throw e;
      return false;
    });
    await this.#tally.update();
    const missing = this.#tally.tally.missing(sent, 10);
    if (all) this.#line(`collector: all ${fmt(sent)} messages are in`);
    else {
      this.#line(
        `collector: ${fmt(missing.count)} of ${
          fmt(sent)
        } messages still missing after ${DELIVERY_DEADLINE_S} s (first: ${
          missing.first.join(", ")
        })`,
      );
    }
    this.#stopPolling = true;
    await this.#polling;
    this.#progressOff();
    const final = await this.#poll().catch(() => this.#status);
    if ((final?.rsyslogd.restarts ?? 0) === 0) {
      this.#problem("rsyslogd did not die of the HUP: the incident was not reproduced");
    }
    this.#report(sent, missing.count, final);
    return missing.count === 0 && this.#problems.length === 0 ? 0 : 1;
  }

  async #writeFiles(): Promise<void> {
    const l = this.#l;
    await Deno.mkdir(`${l.dir}/log`, { recursive: true });
    await Deno.writeTextFile(
      l.rsyslogConf,
      managedRsyslogConf({
        dir: l.dir,
        agentPort: l.agentPort,
        socket: l.socket,
        file: l.logFile,
        comment: "agent demo: the host's rsyslogd, managed by the agent",
      }),
    );
    await Deno.writeTextFile(l.standIn, standInScript(l));
    await Deno.writeTextFile(l.agentConf, agentConfig(l, await controlGroup()));
    const out = await new Deno.Command(l.rsyslogd, {
      args: ["-N1", "-f", l.rsyslogConf],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      throw new Error(
        `${l.rsyslogd} rejects the demo's config ${l.rsyslogConf} (exit ${out.code}): ${text.trim()}`,
      );
    }
    if (this.#o.logrotate !== "") {
      await Deno.writeTextFile(
        l.logrotateConf,
        logrotateConf(l, agentArgv(["rotate", "--socket", l.controlSocket])),
      );
    }
  }

  /** Starts the collector, or starts it again on its port; resolves once it listens. */
  async #startCollector(): Promise<void> {
    const l = this.#l;
    this.#check();
    if (this.#collector === undefined) {
      this.#collector = await this.#abortable(RsyslogCollector.start(l.collectorDir, {
        port: l.collectorPort,
        rsyslogd: l.rsyslogd,
        setsid: true,
      }));
    } else {
      await this.#abortable(this.#collector.restart());
    }
  }

  /** logrotate -f with `agent rotate` as postrotate, or rotate through the control socket. */
  async #rotate(): Promise<void> {
    this.#rotating = true;
    try {
      await this.#rotateOnce();
    } finally {
      this.#rotating = false;
    }
  }

  async #rotateOnce(): Promise<void> {
    const l = this.#l;
    if (this.#o.logrotate === "") {
      this.#line(
        `rotate: logrotate is not installed ("apt-get install logrotate"): asking the agent to rotate through its control socket`,
      );
      try {
        const r = await this.#abortable(
          controlRequest(l.controlSocket, { command: "rotate" }, 60_000),
        ) as { message: string };
        this.#line(`rotate: done: ${r.message}`);
      } catch (e) {
        if (e instanceof Interrupted) throw e;
        this.#problem(`rotate failed: ${e instanceof Error ? e.message : e}`);
      }
      return;
    }
    this.#line(
      `logrotate -f: rotates ${l.logFile}; its postrotate runs "agent rotate" (the agent sends the HUP)`,
    );
    const out = await this.#abortable(
      new Deno.Command(this.#o.logrotate, {
        args: ["-v", "-f", "-s", l.logrotateState, l.logrotateConf],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output(),
    );
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    // What happened to rsyslogd goes on the timeline before logrotate's result.
    await this.#poll().then((s) => this.#observe(s), () => {});
    const said = text.split("\n").filter((line) => /^agent: rotate: /.test(line))
      .map((line) => line.replace(/^agent: rotate: /, ""));
    if (out.success) {
      this.#line(`logrotate: done (exit 0); agent rotate: ${said.join("; ") || "ok"}`);
    } else {
      const errors = text.split("\n").filter((line) => /error|agent:/i.test(line)).slice(0, 4);
      this.#problem(`logrotate failed (exit ${out.code}): ${errors.join("; ")}`);
    }
  }

  // --- watching the agent -----------------------------------------------------

  async #poll(): Promise<Status> {
    const s = await controlRequest(this.#l.controlSocket, { command: "status" }, 2000) as Status;
    this.#status = s;
    return s;
  }

  async #pollLoop(): Promise<void> {
    while (!this.#stopPolling && !this.#o.signal.aborted) {
      try {
        this.#observe(await this.#poll());
        await this.#watchDrain();
      } catch {
        // The agent is busy or gone: #until notices a dead agent.
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Turns what changed since the last status into timeline lines. */
  #observe(s: Status): void {
    const now = performance.now();
    const r = s.rsyslogd;
    if (r.lastExit !== "" && r.lastExit !== this.#rsExit) {
      this.#rsExit = r.lastExit;
      this.#rsExitSeenAt = now;
      this.#line(`rsyslogd: ${r.lastExit}${this.#rotating ? ": it died of the HUP" : ""}`);
    }
    if (r.state === "running" && r.probe.ok && r.pid !== 0 && r.pid !== this.#rsPid) {
      const down = this.#rsExitSeenAt === 0
        ? ""
        : `, about ${((now - this.#rsExitSeenAt) / 1000).toFixed(1)} s after it died`;
      this.#line(
        `agent: restarted rsyslogd as pid ${r.pid}${down}; a canary came back through it: logging works again`,
      );
      this.#rsPid = r.pid;
    }
    const c = s.collectors[0];
    if (c !== undefined) {
      const up = c.state === "up";
      if (this.#collectorUp && !up) {
        this.#line(
          `agent: collector ${c.address} ${c.state}${
            c.lastError === "" ? "" : ` (${c.lastError})`
          }: the spool takes over`,
        );
      } else if (!this.#collectorUp && up) {
        this.#drainStartedAt = now;
        this.#drainTarget = this.#app?.sent ?? 0;
        this.#line(
          `agent: collector ${c.address} up again: draining the spool (${
            fmt(this.#episodePeak)
          } messages at its peak), oldest first, while new ones keep coming`,
        );
      }
      this.#collectorUp = up;
    }
    const n = s.spool.messages;
    if (n > 0) {
      if (this.#spoolSince === 0) {
        this.#spoolSince = now;
        this.#episodePeak = 0;
      }
      this.#episodePeak = Math.max(this.#episodePeak, n);
      this.#spoolPeak = Math.max(this.#spoolPeak, n);
    } else if (this.#spoolSince !== 0) {
      const ms = now - this.#spoolSince;
      this.#spooledMs += ms;
      this.#spoolSince = 0;
      this.#line(
        `agent: spool read empty after ${(ms / 1000).toFixed(1)} s (peak ${
          fmt(this.#episodePeak)
        } messages); new messages go straight to the collector again`,
      );
    }
  }

  /** After a reconnect: says when everything sent before it is at the collector. */
  async #watchDrain(): Promise<void> {
    if (this.#drainTarget === 0) return;
    await this.#tally.update();
    if (this.#tally.tally.missing(this.#drainTarget).count > 0) return;
    this.#outageTo = performance.now();
    this.#lastDrainMs = this.#outageTo - this.#drainStartedAt;
    this.#line(
      `collector: has all ${fmt(this.#drainTarget)} messages sent before the reconnect, ${
        (this.#lastDrainMs / 1000).toFixed(1)
      } s after it: the spool is drained`,
    );
    this.#drainTarget = 0;
  }

  // --- output -------------------------------------------------------------------

  #elapsed(): string {
    return `${this.#at(performance.now()).padStart(6)}`;
  }

  /** A `performance.now()` time as seconds into the demo. */
  #at(t: number): string {
    return `${((t - this.#t0) / 1000).toFixed(1)}s`;
  }

  #print(text: string): void {
    this.#o.write(text);
  }

  /** A timeline line, above the progress line. */
  #line(text: string): void {
    this.#clearProgress();
    this.#print(`${this.#elapsed()}  ${text}\n`);
    this.#drawProgress();
  }

  /** A line continuing the previous one. */
  #note(text: string): void {
    this.#clearProgress();
    this.#print(`        ${text}\n`);
    this.#drawProgress();
  }

  #problem(text: string): void {
    this.#problems.push(text);
    this.#line(`PROBLEM: ${text}`);
  }

  #progressOn(): void {
    this.#rate = {
      at: performance.now(),
      sent: 0,
      forwarded: this.#status?.counters.forwarded ?? 0,
      appRate: 0,
      outRate: 0,
    };
    const every = this.#o.terminal ? 250 : 2000;
    this.#progressTimer = setInterval(() => {
      this.#measureRates();
      if (this.#o.terminal) {
        this.#clearProgress();
        this.#drawProgress();
      } else {
        this.#print(`${this.#elapsed()}  · ${this.#progressText()}\n`);
      }
    }, every);
    this.#drawProgress();
  }

  #progressOff(): void {
    if (this.#progressTimer !== undefined) clearInterval(this.#progressTimer);
    this.#progressTimer = undefined;
    this.#clearProgress();
  }

  #measureRates(): void {
    const now = performance.now();
    const secs = (now - this.#rate.at) / 1000;
    if (secs < 0.2) return;
    const sent = this.#app?.sent ?? 0;
    const forwarded = this.#status?.counters.forwarded ?? this.#rate.forwarded;
    this.#rate = {
      at: now,
      sent,
      forwarded,
      appRate: (sent - this.#rate.sent) / secs,
      outRate: Math.max(0, forwarded - this.#rate.forwarded) / secs,
    };
  }

  #progressText(): string {
    const s = this.#status;
    const app = this.#app;
    const collector = s?.collectors[0]?.state ?? "?";
    return `app ${fmt(this.#rate.appRate)}/s · out ${fmt(this.#rate.outRate)}/s · spool ${
      fmt(s?.spool.messages ?? 0)
    } · rsyslogd ${s?.rsyslogd.state ?? "?"} · collector ${collector} · worst send ${
      (app?.worstSendMs ?? 0).toFixed(1)
    } ms`;
  }

  #drawProgress(): void {
    if (!this.#o.terminal || this.#progressTimer === undefined) return;
    this.#print(`${this.#elapsed()}  ${this.#progressText()}`.slice(0, terminalWidth()));
    this.#progressShown = true;
  }

  #clearProgress(): void {
    if (!this.#progressShown) return;
    this.#print("\r\x1b[2K");
    this.#progressShown = false;
  }

  #report(sent: number, missing: number, s: Status | undefined): void {
    const app = this.#app!;
    const t = this.#tally.tally;
    if (this.#spoolSince !== 0) this.#spooledMs += performance.now() - this.#spoolSince;
    const r = s?.rsyslogd;
    const baseline = app.worstSendBetween(this.#appFrom, this.#appFrom + ROTATE_AT_S * 1000);
    const outageWorst = app.worstSendBetween(this.#outageFrom, this.#outageTo || performance.now());
    const lines = [
      "",
      "report",
      `  sent:        ${fmt(sent)} messages (${fmt(this.#o.rate)}/s for ${
        app.seconds.toFixed(1)
      } s), by the application through rsyslogd and the agent`,
      `  delivered:   ${fmt(t.unique > sent ? sent : t.unique)} at the collector`,
      `  duplicates:  ${fmt(t.duplicates)}${
        t.duplicates > 0
          ? " (resent from the agent's replay window after the collector's crash: at-least-once)"
          : ""
      }`,
      `  missing:     ${fmt(missing)}`,
      `  application: worst wait in one send(): ${app.worstSendMs.toFixed(1)} ms (at ${
        this.#at(app.worstSendAt)
      }); before anything failed: ${baseline.toFixed(1)} ms; while the collector was down: ${
        outageWorst.toFixed(1)
      } ms`,
      ...(app.worstSendMs > 50
        ? [
          `               (load average ${loadAverage()} on ${navigator.hardwareConcurrency} CPUs: waiting for a CPU counts too)`,
        ]
        : []),
      `               ${
        fmt(app.refused)
      } sends refused while rsyslogd restarted (socket gone; retried, a message held back at most ${
        (app.worstHeldMs / 1000).toFixed(2)
      } s)`,
      `  rsyslogd:    ${r?.restarts ?? "?"} restart(s) by the agent${
        r && r.lastExit !== "" ? ` (last exit: ${r.lastExit})` : ""
      }`,
      `  spooled:     ${(this.#spooledMs / 1000).toFixed(1)} s, peak ${
        fmt(this.#spoolPeak)
      } messages${
        this.#lastDrainMs > 0 ? `; drained in ${(this.#lastDrainMs / 1000).toFixed(1)} s` : ""
      }; dropped ${fmt(s?.counters.dropped ?? 0)}`,
    ];
    for (const p of this.#problems) lines.push(`  problem:     ${p}`);
    lines.push(
      missing === 0 && this.#problems.length === 0
        ? `result: nothing lost; rsyslogd was brought back after the HUP killed it; ${
          outageWorst < 50
            ? "the application never waited on the collector"
            : `the application's longest send() while the collector was down took ${
              outageWorst.toFixed(0)
            } ms`
        }`
        : `result: FAILED: ${missing > 0 ? `${fmt(missing)} message(s) missing` : ""}${
          missing > 0 && this.#problems.length > 0 ? "; " : ""
        }${this.#problems.join("; ")}; logs are kept in ${this.#l.dir}`,
    );
    this.#print(lines.join("\n") + "\n");
  }

  // --- processes ----------------------------------------------------------------

  async #cleanup(keep: boolean): Promise<void> {
    this.#progressOff();
    this.#stopPolling = true;
    await this.#app?.stop().catch(() => {});
    await this.#polling;
    const stopped: string[] = [];
    if (this.#agent !== undefined) {
      const s = await this.#agent.stop(12_000);
      stopped.push(`agent (exit ${s.signal ?? s.code})`);
    }
    if (this.#collector?.pid !== undefined) {
      await this.#collector.stop();
      stopped.push("collector");
    }
    const dir = this.#l?.dir;
    if (dir === undefined) return;
    const left = await killLeftovers(dir);
    for (const p of left) {
      this.#print(`cleanup: killed a leftover process ${p.pid}: ${p.cmdline}\n`);
    }
    const still = await processesUsing(dir);
    this.#print(
      `cleanup: stopped ${stopped.join(", ") || "nothing"}; ${
        still.length === 0 ? "nothing left running" : `${still.length} process(es) still running`
      }${keep ? `; logs kept in ${dir}` : ""}\n`,
    );
    if (!keep) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }

  // --- waiting ------------------------------------------------------------------

  /** Throws when interrupted, when the agent died, or when the application gave up. */
  #check(): void {
    if (this.#o.signal.aborted) throw new Interrupted(String(this.#o.signal.reason));
    if (this.#agent?.exited()) {
      throw new Error(`the agent exited unexpectedly; its log is ${this.#l.agentLog}`);
    }
    const failed = this.#app?.error;
    if (failed) {
      throw new Error(
        `the application could not log: ${failed.message}; rsyslogd is not coming back`,
      );
    }
  }

  async #sleep(ms: number): Promise<void> {
    await this.#sleepUntil(performance.now() + ms);
  }

  async #sleepUntil(when: number): Promise<void> {
    for (;;) {
      this.#check();
      const left = when - performance.now();
      if (left <= 0) return;
      await new Promise((r) => setTimeout(r, Math.min(left, 100)));
    }
  }

  /** Polls `check` until it returns something truthy; throws after `ms`, naming `what`. */
  async #until<T>(
    check: () => T | false | undefined | Promise<T | false | undefined>,
    ms: number,
    what: string,
  ): Promise<T> {
    const deadline = performance.now() + ms;
    for (;;) {
      this.#check();
      const v = await check();
      if (v) return v;
      if (performance.now() > deadline) {
        throw new Error(
          `timed out after ${ms / 1000} s waiting for ${what}; see the logs in ${this.#l.dir}`,
        );
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** `p`, or Interrupted as soon as the demo is interrupted. */
  #abortable<T>(p: Promise<T>): Promise<T> {
    const signal = this.#o.signal;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(new Interrupted(String(signal.reason)));
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }
}

/** The control socket's group: `adm` for root, else the user's own group (so chown works). */
async function controlGroup(): Promise<string> {
  if (Deno.uid() === 0) return "adm";
  const gid = String(Deno.gid());
  const text = await Deno.readTextFile("/etc/group").catch(() => "");
  for (const line of text.split("\n")) {
    const [name, , id] = line.split(":");
    if (id === gid && name) return name;
  }
  // No such group: the agent then leaves the socket's group alone.
  return "agent-demo-no-group";
}

async function isFile(path: string): Promise<boolean> {
  return (await Deno.stat(path).catch(() => undefined))?.isFile === true;
}

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ")[0] ?? "?";
  } catch {
    return "?";
  }
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Columns for the progress line: the terminal's, less one (120 when it does not say). */
function terminalWidth(): number {
  try {
    const { columns } = Deno.consoleSize();
    return columns > 1 ? columns - 1 : 120;
  } catch {
    return 120;
  }
}

function writeStdout(text: string): void {
  const data = encoder.encode(text);
  let off = 0;
  while (off < data.length) off += Deno.stdout.writeSync(data.subarray(off));
}
