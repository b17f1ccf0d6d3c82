/**
 * `agent demo`: the incident the agent exists for, replayed on this machine
 * in about 20 seconds, with real processes in a temp dir.
 *
 * @module
 */

import { controlRequest } from "../control/mod.ts";
import { errorText } from "../ground/mod.ts";
import {
  agentArgv,
  findProgram,
  freePort,
  killLeftovers,
  type LoggedChild,
  managedRsyslogConf,
  processesUsing,
  RsyslogCollector,
  rsyslogdRejects,
  SeqFileTally,
  sleep,
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
import { AgentWatch, POLL_MS } from "./_agent_watch.ts";
import { reportText } from "./_report.ts";
import { fmt, Timeline } from "./_timeline.ts";

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

/**
 * One run of the demo: it starts the processes, drives the incident's
 * timeline, and stops everything again; what it says goes through its
 * {@linkcode Timeline}, what the agent's status shows through its
 * {@linkcode AgentWatch}.
 */
class DemoRun {
  #opts: RunOptions;
  #timeline: Timeline;
  /** Its files and ports; set once the work dir is made. */
  #layout!: DemoLayout;
  #collector: RsyslogCollector | undefined;
  #agent: LoggedChild | undefined;
  #app: UnixDgramSender | undefined;
  #tally!: SeqFileTally;
  #watch!: AgentWatch;
  #problems: string[] = [];
  /** When the application started. */
  #appFrom = 0;
  /** When the collector was SIGKILLed: the outage lasts until everything is drained. */
  #outageFrom = 0;

  constructor(opts: RunOptions) {
    this.#opts = opts;
    this.#timeline = new Timeline(opts.write, opts.terminal);
  }

  async run(): Promise<number> {
    const timeline = this.#timeline;
    timeline.print(
      `agent demo: the incident, replayed on this machine (about 20 s; Ctrl-C stops it cleanly)\n` +
        `  The incident: rsyslogd died on a logrotate HUP; clients forwarded over TCP; the collector\n` +
        `  went away; every application calling syslog() hung. Here the agent sits between rsyslogd\n` +
        `  and the collector, and keeps rsyslogd alive.\n\n`,
    );
    const dir = await Deno.makeTempDir({ prefix: "agent-demo-" });
    try {
      this.#layout = demoLayout(dir, this.#opts.rsyslogd, await freePort(), await freePort());
    } catch (e) {
      await Deno.remove(dir, { recursive: true });
      timeline.print(`agent demo: ${errorText(e)}\n`);
      return 1;
    }
    const layout = this.#layout;
    this.#tally = new SeqFileTally(layout.received, `${APP_TAG}[`);
    this.#watch = new AgentWatch({
      timeline,
      controlSocket: layout.controlSocket,
      tally: this.#tally,
      sent: () => this.#app?.sent ?? 0,
      signal: this.#opts.signal,
    });
    let code = 1;
    let keep = false;
    try {
      code = await this.#replay();
      keep = code !== 0;
    } catch (e) {
      timeline.stopProgress();
      if (e instanceof Interrupted) {
        timeline.print(
          `\n${timeline.elapsed()}  ${e.message}: stopping the application, the agent (which stops rsyslogd) and the collector\n`,
        );
        code = e.reason === "SIGTERM" ? 143 : 130;
      } else {
        timeline.print(`\nagent demo: ${errorText(e)}\n`);
        const log = await Deno.readTextFile(layout.agentLog).catch(() => "");
        if (log !== "") {
          timeline.print(
            `--- the end of ${layout.agentLog}:\n${
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
    const layout = this.#layout;
    const timeline = this.#timeline;
    const watch = this.#watch;
    await this.#writeFiles();
    timeline.line(`work dir ${layout.dir} (removed at the end)`);

    // The collector.
    await this.#startCollector();
    timeline.line(
      `collector: rsyslogd listening on 127.0.0.1:${layout.collectorPort} (pid ${
        this.#collector!.pid
      }); keeps every message it receives`,
    );

    // The agent, which starts the rsyslogd it supervises.
    const [cmd, ...args] = agentArgv(["run", "--config", layout.agentConf]);
    this.#agent = spawnLogged({ cmd: cmd!, args, logPath: layout.agentLog, setsid: true });
    const st = await this.#until(
      async () => {
        const s = await watch.poll().catch(() => undefined);
        return s !== undefined && s.rsyslogd.state === "running" && s.rsyslogd.probe.ok &&
          s.collectors[0]?.state === "up" && s;
      },
      30_000,
      "the agent to start and rsyslogd to pass its probe",
    );
    watch.rsyslogdPid = st.rsyslogd.pid;
    watch.collectorUp = true;
    timeline.line(
      `agent: pid ${this.#agent.pid}: input tcp 127.0.0.1:${layout.agentPort}, collector 127.0.0.1:${layout.collectorPort}, spool ${layout.spool}`,
    );
    timeline.line(
      `rsyslogd: pid ${st.rsyslogd.pid}, run and watched by the agent (child mode); a canary came back through it in ${st.rsyslogd.probe.latencyMs} ms`,
    );
    timeline.note(
      "a stand-in: the real rsyslogd, under a shell that exits on SIGHUP, reproducing the HUP crash of rsyslog 4.6.2",
    );

    // The application.
    const app = this.#app = demoApp(layout.socket, `${layout.dir}/app.sock`, this.#opts.rate);
    app.start();
    const t0 = this.#appFrom = performance.now();
    timeline.line(
      `application: logging ${
        fmt(this.#opts.rate)
      } numbered messages a second into rsyslogd's socket (as syslog() does into /dev/log)`,
    );
    watch.start();
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
    timeline.line(
      `collector: SIGKILL (pid ${killed}): the collector is gone; the application keeps logging`,
    );
    await this.#sleep(COLLECTOR_DOWN_S * 1000);

    // 3. The collector comes back; the spool drains.
    await this.#startCollector();
    timeline.line(
      `collector: back on 127.0.0.1:${layout.collectorPort} (pid ${
        this.#collector!.pid
      }); the agent retries with backoff (250 ms doubling to 10 s)`,
    );
    const latest = t0 + APP_STOP_LATEST_S * 1000;
    await this.#until(
      () =>
        (watch.collectorUp && watch.spoolSince === 0 && watch.drainTarget === 0 &&
          watch.lastDrainMs > 0) || performance.now() > latest,
      APP_STOP_LATEST_S * 1000,
      "the spool to drain",
    );
    await this.#sleepUntil(Math.min(latest, performance.now() + AFTER_DRAIN_S * 1000));
    await app.stop();
    this.#check();
    timeline.line(`application: stopped after ${fmt(app.sent)} messages`);

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
    if (all) timeline.line(`collector: all ${fmt(sent)} messages are in`);
    else {
      timeline.line(
        `collector: ${fmt(missing.count)} of ${
          fmt(sent)
        } messages still missing after ${DELIVERY_DEADLINE_S} s (first: ${
          missing.first.join(", ")
        })`,
      );
    }
    await watch.stop();
    timeline.stopProgress();
    const final = await watch.poll().catch(() => watch.status);
    if ((final?.rsyslogd.restarts ?? 0) === 0) {
      this.#problem("rsyslogd did not die of the HUP: the incident was not reproduced");
    }
    const spoolingFor = watch.spoolSince === 0 ? 0 : performance.now() - watch.spoolSince;
    timeline.print(reportText({
      sent,
      missing: missing.count,
      status: final,
      app,
      tally: this.#tally.tally,
      rate: this.#opts.rate,
      appFrom: this.#appFrom,
      outageFrom: this.#outageFrom,
      outageTo: watch.drainedAt,
      spooledMs: watch.spooledMs + spoolingFor,
      spoolPeak: watch.spoolPeak,
      lastDrainMs: watch.lastDrainMs,
      baselineMs: ROTATE_AT_S * 1000,
      problems: this.#problems,
      dir: layout.dir,
    }, timeline));
    return missing.count === 0 && this.#problems.length === 0 ? 0 : 1;
  }

  async #writeFiles(): Promise<void> {
    const layout = this.#layout;
    await Deno.mkdir(`${layout.dir}/log`, { recursive: true });
    await Deno.writeTextFile(
      layout.rsyslogConf,
      managedRsyslogConf({
        dir: layout.dir,
        agentPort: layout.agentPort,
        socket: layout.socket,
        file: layout.logFile,
        comment: "agent demo: the host's rsyslogd, managed by the agent",
      }),
    );
    await Deno.writeTextFile(layout.standIn, standInScript(layout));
    await Deno.writeTextFile(layout.agentConf, agentConfig(layout, await controlGroup()));
    const rejected = await rsyslogdRejects(layout.rsyslogd, layout.rsyslogConf);
    if (rejected !== undefined) {
      throw new Error(
        `${layout.rsyslogd} rejects the demo's config ${layout.rsyslogConf} (exit ${rejected.code}): ${rejected.output}`,
      );
    }
    if (this.#opts.logrotate !== "") {
      await Deno.writeTextFile(
        layout.logrotateConf,
        logrotateConf(layout, agentArgv(["rotate", "--socket", layout.controlSocket])),
      );
    }
  }

  /** Starts the collector, or starts it again on its port; resolves once it listens. */
  async #startCollector(): Promise<void> {
    const layout = this.#layout;
    this.#check();
    if (this.#collector === undefined) {
      this.#collector = await this.#abortable(RsyslogCollector.start(layout.collectorDir, {
        port: layout.collectorPort,
        rsyslogd: layout.rsyslogd,
        setsid: true,
      }));
    } else {
      await this.#abortable(this.#collector.restart());
    }
  }

  /** logrotate -f with `agent rotate` as postrotate, or rotate through the control socket. */
  async #rotate(): Promise<void> {
    this.#watch.rotating = true;
    try {
      await this.#rotateOnce();
    } finally {
      this.#watch.rotating = false;
    }
  }

  async #rotateOnce(): Promise<void> {
    const layout = this.#layout;
    const timeline = this.#timeline;
    if (this.#opts.logrotate === "") {
      timeline.line(
        `rotate: logrotate is not installed ("apt-get install logrotate"): asking the agent to rotate through its control socket`,
      );
      try {
        const r = await this.#abortable(
          controlRequest(layout.controlSocket, { command: "rotate" }, 60_000),
        ) as { message: string };
        timeline.line(`rotate: done: ${r.message}`);
      } catch (e) {
        if (e instanceof Interrupted) throw e;
        this.#problem(`rotate failed: ${errorText(e)}`);
      }
      return;
    }
    timeline.line(
      `logrotate -f: rotates ${layout.logFile}; its postrotate runs "agent rotate" (the agent sends the HUP)`,
    );
    const out = await this.#abortable(
      new Deno.Command(this.#opts.logrotate, {
        args: ["-v", "-f", "-s", layout.logrotateState, layout.logrotateConf],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output(),
    );
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    // What happened to rsyslogd goes on the timeline before logrotate's result.
    await this.#watch.poll().then((s) => this.#watch.observe(s), () => {});
    const said = text.split("\n").filter((line) => /^agent: rotate: /.test(line))
      .map((line) => line.replace(/^agent: rotate: /, ""));
    if (out.success) {
      timeline.line(`logrotate: done (exit 0); agent rotate: ${said.join("; ") || "ok"}`);
    } else {
      const errors = text.split("\n").filter((line) => /error|agent:/i.test(line)).slice(0, 4);
      this.#problem(`logrotate failed (exit ${out.code}): ${errors.join("; ")}`);
    }
  }

  #problem(text: string): void {
    this.#problems.push(text);
    this.#timeline.line(`PROBLEM: ${text}`);
  }

  /** The progress line: the application's and the agent's rates, the spool, who is up. */
  #progressOn(): void {
    const watch = this.#watch;
    let rates = {
      at: performance.now(),
      sent: 0,
      forwarded: watch.status?.counters.forwarded ?? 0,
      appRate: 0,
      outRate: 0,
    };
    this.#timeline.startProgress({
      measure: () => {
        const now = performance.now();
        const secs = (now - rates.at) / 1000;
        if (secs < 0.2) return;
        const sent = this.#app?.sent ?? 0;
        const forwarded = watch.status?.counters.forwarded ?? rates.forwarded;
        rates = {
          at: now,
          sent,
          forwarded,
          appRate: (sent - rates.sent) / secs,
          outRate: Math.max(0, forwarded - rates.forwarded) / secs,
        };
      },
      text: () => {
        const s = watch.status;
        const app = this.#app;
        const collector = s?.collectors[0]?.state ?? "?";
        return `app ${fmt(rates.appRate)}/s · out ${fmt(rates.outRate)}/s · spool ${
          fmt(s?.spool.messages ?? 0)
        } · rsyslogd ${s?.rsyslogd.state ?? "?"} · collector ${collector} · worst send ${
          (app?.worstSendMs ?? 0).toFixed(1)
        } ms`;
      },
    });
  }

  // --- processes ----------------------------------------------------------------

  async #cleanup(keep: boolean): Promise<void> {
    this.#timeline.stopProgress();
    const stopping = this.#watch?.stop();
    await this.#app?.stop().catch(() => {});
    await stopping;
    const stopped: string[] = [];
    if (this.#agent !== undefined) {
      const s = await this.#agent.stop(12_000);
      stopped.push(`agent (exit ${s.signal ?? s.code})`);
    }
    if (this.#collector?.pid !== undefined) {
      await this.#collector.stop();
      stopped.push("collector");
    }
    const dir = this.#layout?.dir;
    if (dir === undefined) return;
    const left = await killLeftovers(dir);
    for (const p of left) {
      this.#timeline.print(`cleanup: killed a leftover process ${p.pid}: ${p.cmdline}\n`);
    }
    const still = await processesUsing(dir);
    this.#timeline.print(
      `cleanup: stopped ${stopped.join(", ") || "nothing"}; ${
        still.length === 0 ? "nothing left running" : `${still.length} process(es) still running`
      }${keep ? `; logs kept in ${dir}` : ""}\n`,
    );
    if (!keep) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }

  // --- waiting ------------------------------------------------------------------

  /** Throws when interrupted, when the agent died, or when the application gave up. */
  #check(): void {
    const signal = this.#opts.signal;
    if (signal.aborted) throw new Interrupted(String(signal.reason));
    if (this.#agent?.exited()) {
      throw new Error(`the agent exited unexpectedly; its log is ${this.#layout.agentLog}`);
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
      await sleep(Math.min(left, 100));
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
          `timed out after ${ms / 1000} s waiting for ${what}; see the logs in ${this.#layout.dir}`,
        );
      }
      await sleep(POLL_MS);
    }
  }

  /** `p`, or Interrupted as soon as the demo is interrupted. */
  #abortable<T>(p: Promise<T>): Promise<T> {
    const signal = this.#opts.signal;
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

function writeStdout(text: string): void {
  const data = encoder.encode(text);
  let off = 0;
  while (off < data.length) off += Deno.stdout.writeSync(data.subarray(off));
}
