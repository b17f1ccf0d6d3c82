/**
 * End-to-end: the watchdog. The agent runs as a real process and manages a
 * real rsyslogd (or a stand-in) with its own config in a temp dir: canaries
 * and test traffic go into rsyslogd on a unix socket (imuxsock), rsyslogd
 * forwards everything to the agent's TCP input, the agent relays to a real
 * rsyslogd collector. Rotation uses the real logrotate.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { controlRequest } from "../control/mod.ts";
import {
  type AgentProcess,
  checkSeqs,
  collectorConf,
  freePort,
  managedRsyslogConf,
  readLines,
  RsyslogCollector,
  type RsyslogdProcess,
  sendDgrams,
  sendSeq,
  sleep,
  startAgent,
  startRsyslogd,
  waitFor,
} from "../testkit/mod.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const SNIPPET = fileURLToPath(new URL("../packaging/logrotate/syslog-agent", import.meta.url));
const RSYSLOGD = "/usr/sbin/rsyslogd";
/** The probe of these tests: hung after 3 × 300 ms. */
const PROBE = { intervalMs: 300, timeoutMs: 200, failures: 3 };

interface Rsyslogd {
  mode: string;
  state: string;
  pid: number;
  restarts: number;
  lastExit: string;
  lastRestartAt: string;
  lastRotateAt: string;
  probe: { ok: boolean; lastOkAt: string; latencyMs: number };
}

interface Setup {
  dir: string;
  collector: RsyslogCollector;
  agentPort: number;
  agent: AgentProcess;
  /** rsyslogd's imuxsock socket: the probe target and the test traffic's way in. */
  sock: string;
  /** rsyslogd's config file. */
  conf: string;
  /** The file rsyslogd writes every message to (with `file: true`). */
  file: string;
  /** rsyslogd's imtcp port (with `tcpPort: true`). */
  tcpPort: number;
}

interface SetupOptions {
  /** `rsyslogd.command`; default the real rsyslogd on the test config. */
  command?: (dir: string, conf: string) => string[];
  /** The whole `rsyslogd` section instead (external mode, bad configs). */
  rsyslogd?: (dir: string, conf: string) => Record<string, unknown>;
  /** rsyslogd writes every message to `file` too. */
  file?: boolean;
  /** rsyslogd listens on TCP too. */
  tcpPort?: boolean;
  /** Wait until the agent reports rsyslogd running (default true). */
  waitRunning?: boolean;
}

/** A temp dir, a collector, an rsyslogd config, and the agent managing rsyslogd. */
async function setup(o: SetupOptions = {}): Promise<Setup> {
  const dir = await Deno.makeTempDir({ prefix: "agent-wd-" });
  const s = { dir } as Setup;
  try {
    s.collector = await RsyslogCollector.start(`${dir}/collector`);
    s.agentPort = await freePort();
    s.sock = `${dir}/log.sock`;
    s.conf = `${dir}/rsyslog.conf`;
    s.file = `${dir}/log/messages.log`;
    s.tcpPort = o.tcpPort ? await freePort() : 0;
    await Deno.mkdir(`${dir}/log`);
    await Deno.writeTextFile(
      s.conf,
      managedRsyslogConf({
        dir,
        agentPort: s.agentPort,
        socket: s.sock,
        tcpPort: o.tcpPort ? s.tcpPort : undefined,
        file: o.file ? s.file : undefined,
      }),
    );
    const rsyslogd = o.rsyslogd?.(dir, s.conf) ?? {
      mode: "child",
      command: o.command?.(dir, s.conf) ?? [RSYSLOGD, "-n", "-iNONE", "-f", s.conf],
      probe: { target: `unix://${s.sock}`, ...PROBE },
    };
    s.agent = await startAgent({
      dir: `${dir}/agent`,
      readyPort: s.agentPort,
      config: {
        inputs: [{ type: "tcp", address: `127.0.0.1:${s.agentPort}` }],
        collectors: [{
          address: `127.0.0.1:${s.collector.port}`,
          connectTimeoutMs: 1000,
          writeTimeoutMs: 1000,
        }],
        rsyslogd,
        log: { level: "debug" },
      },
    });
    if (o.waitRunning ?? true) await running(s.agent);
    return s;
  } catch (e) {
    await teardown(s);
    throw e;
  }
}

async function teardown(s: Partial<Setup>): Promise<void> {
  await s.agent?.stop("SIGTERM").catch(() => {});
  if (s.dir !== undefined) await killStragglers(s.dir);
  await s.collector?.stop().catch(() => {});
  if (s.dir !== undefined) await Deno.remove(s.dir, { recursive: true }).catch(() => {});
}

/** Processes whose command line mentions `dir` (everything these tests start does). */
async function processesUsing(dir: string): Promise<{ pid: number; cmdline: string }[]> {
  const found: { pid: number; cmdline: string }[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    const raw = await Deno.readTextFile(`/proc/${e.name}/cmdline`).catch(() => "");
    const stat = await Deno.readTextFile(`/proc/${e.name}/stat`).catch(() => "");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (raw.includes(dir) && state !== "Z") {
      found.push({ pid: Number(e.name), cmdline: raw.replaceAll("\0", " ").trim() });
    }
  }
  return found;
}

/** SIGKILL whatever these tests left running in `dir` (after a failure). */
async function killStragglers(dir: string): Promise<void> {
  for (const p of await processesUsing(dir)) {
    try {
      Deno.kill(p.pid, "SIGKILL");
    } catch {
      // Gone meanwhile.
    }
  }
}

async function rsyslogdStatus(agent: AgentProcess): Promise<Rsyslogd> {
  return (await agent.statusJson()).rsyslogd as Rsyslogd;
}

/**
 * Waits until rsyslogd runs and has passed a probe: another pid than `not`,
 * and a passing probe at or after `since` (ms since the epoch), when given.
 */
async function running(
  agent: AgentProcess,
  o: { not?: number; since?: number; timeoutMs?: number } = {},
): Promise<Rsyslogd> {
  return await waitFor(async () => {
    const r = await rsyslogdStatus(agent);
    return r.state === "running" && r.probe.ok && r.pid !== 0 && r.pid !== o.not &&
      (o.since === undefined || Date.parse(r.probe.lastOkAt) >= o.since) && r;
  }, { timeoutMs: o.timeoutMs ?? 10_000, what: "rsyslogd running and passing its probe" })
    .catch(async (e) => {
      throw new Error(`${e.message}\n--- agent log:\n${(await agent.log()).slice(-4000)}`);
    });
}

/** The agent's log lines matching `re`, with their time (ms since the epoch). */
async function logged(agent: AgentProcess, re: RegExp): Promise<{ at: number; line: string }[]> {
  return (await agent.log()).split("\n").filter((l) => re.test(l)).map((line) => ({
    at: Date.parse(line.slice(0, line.indexOf(" "))),
    line,
  }));
}

/** Sequence numbers in `from`..`count-1` that none of `lines` carries. */
function missingFrom(lines: string[], from: number, count: number): number[] {
  const seen = new Set<number>();
  for (const l of lines) {
    const m = /seq=(\d+)/.exec(l);
    if (m) seen.add(Number(m[1]));
  }
  const missing: number[] = [];
  for (let i = from; i < count; i++) if (!seen.has(i)) missing.push(i);
  return missing;
}

/** Every seq of `from`..`count-1` at the collector (at least once), or a failure naming what is missing. */
async function allAtCollector(s: Setup, count: number, from = 0): Promise<void> {
  await waitFor(
    async () => missingFrom(await s.collector.lines(), from, count).length === 0,
    { timeoutMs: 20_000, what: `seq ${from}..${count - 1} at the collector` },
  ).catch(async (e) => {
    const missing = missingFrom(await s.collector.lines(), from, count);
    throw new Error(`${e.message}: ${missing.length} missing, first ${missing.slice(0, 20)}`);
  });
}

Deno.test(
  "rsyslogd SIGKILLed under steady traffic: running and passing a probe in under 1 s, later messages all arrive",
  opts,
  async () => {
    const s = await setup();
    try {
      const before = await rsyslogdStatus(s.agent);
      const total = 1500;
      const sending = sendDgrams({ target: s.sock, dir: s.dir, count: total, ratePerSec: 500 });
      await waitFor(async () => checkSeqs(await s.collector.lines(), total).unique >= 200, {
        timeoutMs: 10_000,
        what: "traffic through rsyslogd at the collector",
      });
      const killedAt = Date.now();
      Deno.kill(before.pid, "SIGKILL");
      const after = await running(s.agent, { not: before.pid, since: killedAt });
      const recoveryMs = Date.parse(after.probe.lastOkAt) - killedAt;
      const sent = await sending;
      assert.equal(sent.sent, total);
      // Everything sent once the new rsyslogd passed its probe arrives (at least once).
      const backAt = Date.parse(after.probe.lastOkAt);
      const firstAfter = sent.sentAt.findIndex((t) => t > backAt);
      assert.ok(firstAfter > 0 && firstAfter < total - 100, `traffic went on: ${firstAfter}`);
      await allAtCollector(s, total, firstAfter);
      const r = checkSeqs(await s.collector.lines(), total);
      console.log(
        `summary: SIGKILL to passing probe ${recoveryMs} ms (new pid ${after.pid}); sent ${total}, ` +
          `${sent.retries} sends retried while rsyslogd was down; lost in the dead rsyslogd ${r.missingCount}`,
      );
      assert.ok(recoveryMs < 1000, `recovery took ${recoveryMs} ms`);
      assert.equal(after.restarts, 1);
      assert.match(after.lastExit, new RegExp(`^pid ${before.pid} killed by SIGKILL$`));
    } finally {
      await teardown(s);
    }
  },
);

Deno.test(
  "rsyslogd frozen with SIGSTOP: found hung within intervalMs × failures (+ one interval), killed, restarted, healthy",
  opts,
  async () => {
    const s = await setup();
    try {
      const before = await rsyslogdStatus(s.agent);
      const stoppedAt = Date.now();
      Deno.kill(before.pid, "SIGSTOP");
      const after = await running(s.agent, { not: before.pid, since: stoppedAt });
      const [hung] = await logged(s.agent, /is hung/);
      assert.ok(hung, "the agent logged the hang");
      const detectMs = hung.at - stoppedAt;
      const limit = PROBE.intervalMs * (PROBE.failures + 1);
      console.log(
        `summary: SIGSTOP to hung ${detectMs} ms (limit ${limit} ms); to a passing probe of pid ${after.pid} ${
          Date.parse(after.probe.lastOkAt) - stoppedAt
        } ms`,
      );
      assert.ok(detectMs <= limit + 100, `hung found after ${detectMs} ms`);
      // rsyslogd acts on the SIGTERM (with a SIGCONT) once it runs again, and exits 0.
      assert.match(
        after.lastExit,
        new RegExp(`^pid ${before.pid} (exited with code 0|killed by SIGKILL) \\(hung: 3 probe`),
      );
      assert.equal(await Deno.stat(`/proc/${before.pid}`).then(() => true, () => false), false);
      // Messages flow through the new rsyslogd.
      await sendDgrams({ target: s.sock, dir: s.dir, count: 50, ratePerSec: 1000 });
      await allAtCollector(s, 50);
    } finally {
      await teardown(s);
    }
  },
);

Deno.test(
  "crash loop (a command that exits at once): growing backoff, state failed, the agent keeps relaying",
  opts,
  async () => {
    const s = await setup({
      rsyslogd: () => ({
        mode: "child",
        command: ["/bin/sh", "-c", "exit 3"],
        probe: { target: "none" },
      }),
      waitRunning: false,
    });
    try {
      const st = await waitFor(async () => {
        const st = await s.agent.statusJson();
        return (st.rsyslogd as Rsyslogd).state === "failed" && st;
      }, { timeoutMs: 10_000, what: "rsyslogd failed" });
      const delays = (await logged(s.agent, /restarting rsyslogd in \d+ ms/)).map((l) =>
        Number(/in (\d+) ms/.exec(l.line)![1])
      );
      assert.deepEqual(delays, [100, 200, 400, 800], "backoff doubles");
      const r = st.rsyslogd as Rsyslogd;
      assert.equal(r.restarts, 4);
      assert.match(r.lastExit, /exited with code 3$/);
      assert.equal(st.state, "critical");
      const reasons = st.reasons as string[];
      assert.match(reasons[0]!, /^rsyslogd failed: crash loop: 5 exits within 60 s/);
      // The relay does not care.
      const sent = await sendSeq({
        port: s.agentPort,
        count: 2000,
        size: 200,
        framing: "octet-counted",
        tag: "direct",
      });
      assert.equal(sent.sent, 2000);
      await allAtCollector(s, 2000);
      assert.equal(
        (await rsyslogdStatus(s.agent)).state,
        "failed",
        "still failed, retrying slowly",
      );
      console.log(`summary: backoff ${delays.join(", ")} ms, then failed; relayed 2000 meanwhile`);
    } finally {
      await teardown(s);
    }
  },
);

Deno.test(
  "the incident replayed: logrotate's postrotate `agent rotate`, rsyslogd dies of the HUP, is restarted, nothing is lost",
  opts,
  async () => {
    // A stand-in for rsyslog 4.6.2 with $HUPisRestart on: rsyslogd under a shell
    // that dies when it gets SIGHUP. Before dying it makes rsyslogd stop taking
    // messages (the socket goes away, senders retry) and flush what it holds,
    // so that anything lost would be the watchdog's doing. (A real SIGSEGV also
    // loses what rsyslogd holds in memory: no watchdog can bring that back.)
    const standIn = (dir: string, conf: string) => {
      const script = `${dir}/rsyslogd-dies-on-hup`;
      Deno.writeTextFileSync(
        script,
        `#!/bin/sh
${RSYSLOGD} -n -iNONE -f "$1" &
child=$!
trap 'rm -f "$2"; sleep 0.05; kill -TERM $child; wait $child; exit 1' HUP
trap 'kill -TERM $child; wait $child; exit 0' TERM
wait $child
`,
      );
      return ["/bin/sh", script, conf, `${dir}/log.sock`];
    };
    const s = await setup({ command: standIn, file: true });
    try {
      const before = await rsyslogdStatus(s.agent);
      // logrotate with the packaged snippet, its paths moved into the test dir.
      const out = `${s.dir}/postrotate.out`;
      const snippet = (await Deno.readTextFile(SNIPPET))
        .split("\n").filter((l) => !l.startsWith("#") && !l.startsWith("/var/log/"))
        .join("\n")
        .replace(
          "/usr/local/bin/agent rotate",
          `"${Deno.execPath()}" run --allow-all --unstable-net "${MAIN}" rotate --socket "${s.agent.dir}/agent.sock" >>"${out}" 2>&1; rc=$?; echo "exit $rc" >>"${out}"; exit $rc`,
        );
      assert.match(snippet, /postrotate\n.*rotate --socket/);
      await Deno.writeTextFile(`${s.dir}/logrotate.conf`, `${s.file}\n${snippet}`);

      const total = 1200;
      const sending = sendDgrams({ target: s.sock, dir: s.dir, count: total, ratePerSec: 300 });
      await waitFor(async () => (await readLines(s.file)).length >= 150, {
        timeoutMs: 10_000,
        what: "messages in the log file",
      });
      const lr = await new Deno.Command("logrotate", {
        args: ["-v", "-f", "-s", `${s.dir}/logrotate.state`, `${s.dir}/logrotate.conf`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const lrText = new TextDecoder().decode(lr.stdout) + new TextDecoder().decode(lr.stderr);
      const report = await Deno.readTextFile(out).catch(() => "");
      assert.equal(lr.code, 0, `logrotate failed:\n${lrText}\n--- postrotate:\n${report}`);
      assert.match(
        report,
        /rotate: rsyslogd died after the HUP \(pid \d+ exited with code 1\); restarted as pid \d+, which passes the probe/,
      );
      assert.match(report, /exit 0$/m);
      const sent = await sending;
      assert.equal(sent.sent, total);

      const after = await running(s.agent, { not: before.pid });
      assert.equal(after.restarts, 1);
      assert.notEqual(after.lastRotateAt, "");
      // No message sent during the rotation is lost: not at the collector, not in the files.
      await allAtCollector(s, total);
      const files = await waitFor(async () => {
        const lines = [
          ...await readLines(`${s.file}.1`),
          ...await readLines(s.file),
        ];
        const r = checkSeqs(lines, total);
        return r.missingCount === 0 && r;
      }, { timeoutMs: 10_000, what: "every message in messages.log.1 + messages.log" }).catch(
        async (e) => {
          const r = checkSeqs(
            [...await readLines(`${s.file}.1`), ...await readLines(s.file)],
            total,
          );
          throw new Error(`${e.message}: ${JSON.stringify(r)}`);
        },
      );
      console.log(
        `summary: incident: ${
          report.trim().split("\n")[0]
        }; sent ${total} (${sent.retries} retried while down), ` +
          `files hold ${files.unique} (duplicates ${files.duplicates}), collector has all`,
      );
    } finally {
      await teardown(s);
    }
  },
);

Deno.test(
  "50 rotations in 10 s during traffic: the real rsyslogd never dies, the rotated files hold every message once",
  opts,
  async () => {
    const s = await setup({ file: true, tcpPort: true });
    try {
      const before = await rsyslogdStatus(s.agent);
      const total = 10_000;
      const sending = sendSeq({
        port: s.tcpPort,
        count: total,
        size: 120,
        framing: "octet-counted",
        ratePerSec: 1000,
      });
      const socket = `${s.agent.dir}/agent.sock`;
      let requests = 0;
      const results: { restarted: boolean; message: string }[] = [];
      const t0 = performance.now();
      for (let i = 1; i <= 50; i++) {
        const due = t0 + (i - 1) * 180;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        await Deno.rename(s.file, `${s.file}.${i}`).catch((e) => {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        });
        // Every 10th time, three callers at once: they coalesce.
        const n = i % 10 === 0 ? 3 : 1;
        requests += n;
        const rs = await Promise.all(
          Array.from({ length: n }, () => controlRequest(socket, { command: "rotate" })),
        );
        results.push(...rs as { restarted: boolean; message: string }[]);
      }
      const elapsed = performance.now() - t0;
      await sending;
      const after = await rsyslogdStatus(s.agent);
      assert.equal(after.pid, before.pid, "the same rsyslogd throughout");
      assert.equal(after.restarts, 0);
      for (const r of results) assert.equal(r.restarted, false, r.message);
      const hups = (await logged(s.agent, /rotate: sent SIGHUP/)).length;
      assert.ok(hups >= 50 && hups < requests, `${hups} HUPs for ${requests} rotate requests`);

      const names = [s.file, ...Array.from({ length: 50 }, (_, i) => `${s.file}.${i + 1}`)];
      const report = await waitFor(async () => {
        const lines: string[] = [];
        for (const f of names) lines.push(...await readLines(f));
        const r = checkSeqs(lines, total);
        return r.missingCount === 0 && r;
      }, { timeoutMs: 20_000, what: "every message in the rotated files" }).catch(async (e) => {
        const lines: string[] = [];
        for (const f of names) lines.push(...await readLines(f));
        throw new Error(`${e.message}: ${JSON.stringify(checkSeqs(lines, total))}`);
      });
      const used = (await Promise.all(names.map((f) =>
        readLines(f)
      ))).filter((l) => l.some((x) => x.includes("seq="))).length;
      console.log(
        `summary: 50 rotations (${requests} requests, ${hups} HUPs) in ${
          (elapsed / 1000).toFixed(1)
        } s; ${total} messages over ${used} files, duplicates ${report.duplicates}`,
      );
      assert.ok(elapsed < 10_000, `rotations took ${elapsed} ms`);
      assert.equal(report.duplicates, 0, "every message once");
      assert.ok(used >= 40, `messages spread over the rotated files (${used})`);
    } finally {
      await teardown(s);
    }
  },
);

/**
 * A restart command that starts the host's rsyslogd as its init system would:
 * it forks and writes `pidFile` (a stale one is removed first, or rsyslogd
 * refuses to start while the pid in it runs).
 */
function startsRsyslogd(conf: string, pidFile: string): string[] {
  return ["/bin/sh", "-c", `rm -f '${pidFile}'; exec ${RSYSLOGD} -f '${conf}' -i '${pidFile}'`];
}

/** Another rsyslogd, not the host's: a local collector in a temp dir of its own. */
async function otherRsyslogd(): Promise<{ proc: RsyslogdProcess; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "agent-wd-other-" });
  const conf = collectorConf({ port: await freePort(), dir, file: `${dir}/received.log` });
  return { proc: await startRsyslogd({ conf, dir }), dir };
}

/** The pids a "cannot tell which" reason lists. */
function pidsIn(reason: string): number[] {
  const m = /\(pids ([\d, ]+)\)/.exec(reason);
  return m ? m[1]!.split(", ").map(Number) : [];
}

async function stopOther(o: { proc: RsyslogdProcess; dir: string } | undefined): Promise<void> {
  await o?.proc.stop().catch(() => {});
  if (o !== undefined) await Deno.remove(o.dir, { recursive: true }).catch(() => {});
}

/** "running" while `child` runs, else how it ended. */
async function stillRunning(status: Promise<Deno.CommandStatus>): Promise<string> {
  return await Promise.race([
    status.then((st) => `ended (${st.signal ?? st.code})`),
    new Promise<string>((r) => setTimeout(() => r("running"), 0)),
  ]);
}

Deno.test(
  "external mode: a vanished rsyslogd is noticed and restartCommand run",
  opts,
  async () => {
    const s = await setup({
      rsyslogd: (dir, conf) => {
        const pidFile = `${dir}/rsyslogd.pid`;
        // The host's rsyslogd, started as init would: it forks and writes its pid file.
        new Deno.Command(RSYSLOGD, {
          args: ["-f", conf, "-i", pidFile],
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).outputSync();
        return {
          mode: "external",
          pidFile,
          restartCommand: startsRsyslogd(conf, pidFile),
          probe: { target: "none" },
        };
      },
    });
    try {
      const before = await rsyslogdStatus(s.agent);
      assert.equal(before.mode, "external");
      const first = Number((await Deno.readTextFile(`${s.dir}/rsyslogd.pid`)).trim());
      assert.equal(before.pid, first);
      const killedAt = Date.now();
      Deno.kill(first, "SIGKILL");
      const after = await waitFor(async () => {
        const r = await rsyslogdStatus(s.agent);
        return r.state === "running" && r.pid !== before.pid && r.pid !== 0 && r;
      }, { timeoutMs: 10_000, what: "a new rsyslogd found" });
      const tookMs = Date.now() - killedAt;
      const pid = Number((await Deno.readTextFile(`${s.dir}/rsyslogd.pid`)).trim());
      assert.equal(after.pid, pid);
      assert.equal(after.restarts, 1);
      assert.equal(after.lastExit, `pid ${before.pid} is gone`);
      assert.equal((await logged(s.agent, /running the restart command/)).length, 1);
      console.log(`summary: external: gone to the new process found ${tookMs} ms`);
      assert.ok(tookMs < 3000, `took ${tookMs} ms`);
    } finally {
      await teardown(s);
    }
  },
);

Deno.test(
  "external mode: a stale pid file naming an unrelated process (sleep) is not taken for rsyslogd: never signalled, the real one is started and rotated",
  opts,
  async () => {
    let sleeper: Deno.ChildProcess | undefined;
    const s = await setup({
      rsyslogd: (dir, conf) => {
        sleeper = new Deno.Command("sleep", {
          args: ["600"],
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).spawn();
        Deno.writeTextFileSync(`${dir}/rsyslogd.pid`, `${sleeper.pid}\n`);
        return {
          mode: "external",
          pidFile: `${dir}/rsyslogd.pid`,
          restartCommand: startsRsyslogd(conf, `${dir}/rsyslogd.pid`),
          probe: { target: `unix://${dir}/log.sock`, ...PROBE },
        };
      },
    });
    try {
      const r = await rsyslogdStatus(s.agent);
      const pid = Number((await Deno.readTextFile(`${s.dir}/rsyslogd.pid`)).trim());
      assert.notEqual(pid, sleeper!.pid);
      assert.equal(r.pid, pid, "the rsyslogd the restart command started");
      const rotated = await controlRequest(`${s.agent.dir}/agent.sock`, { command: "rotate" }) as {
        pid: number;
        restarted: boolean;
      };
      assert.deepEqual([rotated.pid, rotated.restarted], [pid, false]);
      assert.equal(await stillRunning(sleeper!.status), "running", "the sleep was never signalled");
      assert.match(
        await s.agent.log(),
        new RegExp(`rsyslogd\\.pid names pid ${sleeper!.pid}, which is \\S*sleep, not rsyslogd`),
      );
      assert.equal((await logged(s.agent, new RegExp(`\\(pid ${sleeper!.pid}\\)`))).length, 0);
      const counters = (await s.agent.statusJson()).counters as { canaries: number };
      assert.ok(counters.canaries >= 2, `canaries counted: ${counters.canaries}`);
      console.log(
        `summary: stale pid file (sleep ${
          sleeper!.pid
        }): not signalled; rsyslogd ${pid} started, rotated; ${counters.canaries} canaries consumed`,
      );
    } finally {
      try {
        sleeper?.kill("SIGKILL");
      } catch {
        // The agent of an earlier version killed it.
      }
      await teardown(s);
    }
  },
);

Deno.test(
  "external mode: a pid file older than the process it names (the pid reused by another rsyslogd) is stale: that one is left alone",
  opts,
  async () => {
    const other = await otherRsyslogd();
    let s: Setup | undefined;
    try {
      s = await setup({
        rsyslogd: (dir, conf) => {
          const pidFile = `${dir}/rsyslogd.pid`;
          Deno.writeTextFileSync(pidFile, `${other.proc.pid}\n`);
          const past = new Date(Date.now() - 60_000);
          Deno.utimeSync(pidFile, past, past);
          return {
            mode: "external",
            pidFile,
            restartCommand: startsRsyslogd(conf, pidFile),
            probe: { target: `unix://${dir}/log.sock`, ...PROBE },
          };
        },
      });
      const r = await rsyslogdStatus(s.agent);
      const pid = Number((await Deno.readTextFile(`${s.dir}/rsyslogd.pid`)).trim());
      assert.notEqual(r.pid, other.proc.pid);
      assert.equal(r.pid, pid);
      assert.match(
        await s.agent.log(),
        new RegExp(
          `names pid ${other.proc.pid}, an rsyslogd that started .* after the file was written .*: the file is stale and the pid reused`,
        ),
      );
      assert.equal(
        await stillRunning(other.proc.status),
        "running",
        "the other rsyslogd is untouched",
      );
    } finally {
      if (s !== undefined) await teardown(s);
      await stopOther(other);
    }
  },
);

Deno.test(
  "external mode: no pid file and two processes named rsyslogd: neither is picked or signalled, the status says why",
  opts,
  async () => {
    const others = [await otherRsyslogd(), await otherRsyslogd()];
    let s: Setup | undefined;
    try {
      s = await setup({
        rsyslogd: (dir) => ({
          mode: "external",
          pidFile: `${dir}/no-such.pid`,
          restartCommand: ["/bin/sh", "-c", `touch '${dir}/restarted'`],
          probe: { target: "none" },
        }),
        waitRunning: false,
      });
      const agent = s.agent;
      const st = await waitFor(async () => {
        const st = await agent.statusJson();
        return (st.rsyslogd as Rsyslogd).state === "failed" && st;
      }, { timeoutMs: 10_000, what: "rsyslogd failed: cannot tell which" });
      assert.equal((st.rsyslogd as Rsyslogd).pid, 0);
      const reason = (st.reasons as string[]).find((x) => x.startsWith("rsyslogd failed")) ?? "";
      assert.match(
        reason,
        /and \d+ processes named rsyslogd \(pids .*\): cannot tell which is the host's/,
      );
      for (const o of others) assert.ok(pidsIn(reason).includes(o.proc.pid), reason);
      // No fixed wait: while it cannot tell, the watchdog looks again every second. A third
      // rsyslogd, and then its end, show in the reason at two looks in turn, the second a
      // second after the first, so well beyond the 500 ms grace after which an rsyslogd
      // taken for gone is restarted: by then a restart would have been run.
      const reasonNow = async () =>
        ((await agent.statusJson()).reasons as string[]).find((x) =>
          x.startsWith("rsyslogd failed")
        ) ?? "";
      const third = await otherRsyslogd();
      try {
        await waitFor(async () => pidsIn(await reasonNow()).includes(third.proc.pid), {
          timeoutMs: 10_000,
          what: "the watchdog to look again and see a third rsyslogd",
        });
      } finally {
        await stopOther(third);
      }
      const later = await waitFor(async () => {
        const r = await reasonNow();
        return !pidsIn(r).includes(third.proc.pid) && r;
      }, { timeoutMs: 10_000, what: "the watchdog to look again and see the third one gone" });
      assert.match(later, /cannot tell which is the host's/);
      assert.equal(await Deno.stat(`${s.dir}/restarted`).then(() => true, () => false), false);
      for (const o of others) assert.equal(await stillRunning(o.proc.status), "running");
    } finally {
      if (s !== undefined) await teardown(s);
      for (const o of others) await stopOther(o);
    }
  },
);

Deno.test(
  "external mode under systemd: rsyslogd is the MainPID of the unit restartCommand restarts, not one found by name",
  opts,
  async () => {
    const other = await otherRsyslogd();
    let s: Setup | undefined;
    try {
      s = await setup({
        rsyslogd: (dir, conf) => {
          // A stand-in for systemctl: "show -p MainPID --value rsyslog.service" and "restart rsyslog".
          const systemctl = `${dir}/systemctl`;
          Deno.writeTextFileSync(`${dir}/mainpid`, "0\n");
          Deno.writeTextFileSync(
            systemctl,
            `#!/bin/sh
echo "$*" >>'${dir}/systemctl.log'
case "$*" in
  "show -p MainPID --value rsyslog.service") cat '${dir}/mainpid' ;;
  "restart rsyslog") ${RSYSLOGD} -n -iNONE -f '${conf}' >/dev/null 2>&1 </dev/null &
    echo $! >'${dir}/mainpid' ;;
  *) exit 1 ;;
esac
`,
          );
          Deno.chmodSync(systemctl, 0o755);
          return {
            mode: "external",
            pidFile: `${dir}/no-such.pid`,
            restartCommand: [systemctl, "restart", "rsyslog"],
            probe: { target: `unix://${dir}/log.sock`, ...PROBE },
          };
        },
      });
      const first = await rsyslogdStatus(s.agent);
      const mainPid = async () => Number((await Deno.readTextFile(`${s!.dir}/mainpid`)).trim());
      assert.equal(first.pid, await mainPid());
      assert.match(
        await s.agent.log(),
        new RegExp(`rsyslogd is pid ${first.pid} \\(by rsyslog\\.service's MainPID\\)`),
      );
      Deno.kill(first.pid, "SIGKILL");
      const after = await running(s.agent, { not: first.pid });
      assert.equal(after.pid, await mainPid());
      assert.equal(after.restarts, first.restarts + 1);
      assert.equal(
        await stillRunning(other.proc.status),
        "running",
        "the other rsyslogd is untouched",
      );
    } finally {
      if (s !== undefined) await teardown(s);
      await stopOther(other);
    }
  },
);

Deno.test(
  "SIGTERM to the agent in child mode: rsyslogd is gone before the agent exits, no orphans",
  opts,
  async () => {
    const s = await setup();
    try {
      const r = await rsyslogdStatus(s.agent);
      const mine = await processesUsing(s.dir);
      assert.ok(mine.some((p) => p.pid === r.pid), "rsyslogd runs with the test config");
      const t0 = performance.now();
      const status = await s.agent.stop("SIGTERM");
      const took = performance.now() - t0;
      assert.equal(status.code, 0);
      assert.ok(took < 6000, `the agent took ${took} ms to stop`);
      const left = (await processesUsing(s.dir)).filter((p) => !p.cmdline.includes("collector"));
      assert.deepEqual(left, [], "nothing of the agent's left running");
      assert.ok(
        (await logged(s.agent, /watchdog: stopping rsyslogd/)).length === 1,
        "the agent says it stopped rsyslogd",
      );
    } finally {
      await teardown(s);
    }
  },
);

Deno.test(
  "a missing rsyslogd and a config rsyslogd rejects: failed with an error naming the file; the relay works",
  opts,
  async () => {
    const missing = await setup({
      rsyslogd: (_dir, conf) => ({
        mode: "child",
        command: ["/nonexistent/sbin/rsyslogd", "-n", "-f", conf],
        probe: { target: "none" },
      }),
      waitRunning: false,
    });
    let rejected: Setup | undefined;
    try {
      rejected = await setup({
        rsyslogd: (dir) => {
          Deno.writeTextFileSync(
            `${dir}/bad.conf`,
            'module(load="imuxsock"\nthis is not rsyslog (\n',
          );
          return {
            mode: "child",
            command: [RSYSLOGD, "-n", "-iNONE", "-f", `${dir}/bad.conf`],
            probe: { target: "none" },
          };
        },
        waitRunning: false,
      });
      const cases: [Setup, RegExp][] = [
        [
          missing,
          /^rsyslogd failed: cannot run \/nonexistent\/sbin\/rsyslogd \(rsyslogd\.command\[0\]\): no such file; install rsyslog or fix rsyslogd\.command$/,
        ],
        [
          rejected,
          new RegExp(
            `^rsyslogd failed: rsyslogd rejects its config ${rejected.dir}/bad\\.conf .*; fix ${rejected.dir}/bad\\.conf`,
          ),
        ],
      ];
      for (const [s, re] of cases) {
        const st = await waitFor(async () => {
          const st = await s.agent.statusJson();
          return (st.rsyslogd as Rsyslogd).state === "failed" && st;
        }, { timeoutMs: 10_000, what: "rsyslogd failed" });
        assert.equal(st.state, "critical");
        assert.match((st.reasons as string[])[0]!, re);
        assert.equal((st.rsyslogd as Rsyslogd).pid, 0);
        const errors = await logged(s.agent, /error watchdog: rsyslogd failed: /);
        assert.ok(errors.length >= 1, "the error is in the agent's log");
        assert.match(
          errors[0]!.line,
          re.source.includes("nonexistent") ? /nonexistent/ : /bad\.conf/,
        );
        await sendSeq({
          port: s.agentPort,
          count: 500,
          size: 100,
          framing: "octet-counted",
        });
        await allAtCollector(s, 500);
      }
    } finally {
      await teardown(missing);
      if (rejected) await teardown(rejected);
    }
  },
);

Deno.test(
  "agent rotate: rsyslogd.mode off answers that rsyslogd is not managed (exit 1); no agent: exit 3",
  opts,
  async () => {
    const s = await setup({ rsyslogd: () => ({ mode: "off" }), waitRunning: false });
    try {
      const cli = async (socket: string) => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "--allow-all", "--unstable-net", MAIN, "rotate", "--socket", socket],
          stdout: "piped",
          stderr: "piped",
        }).output();
        return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
      };
      const off = await cli(`${s.agent.dir}/agent.sock`);
      assert.equal(off.code, 1, off.stderr);
      assert.match(
        off.stderr,
        /rotate: rsyslogd is not managed by the agent \(rsyslogd\.mode is "off"\)/,
      );
      assert.equal((await rsyslogdStatus(s.agent)).state, "unmanaged");
      const gone = await cli(`${s.dir}/no-agent.sock`);
      assert.equal(gone.code, 3, gone.stderr);
      assert.match(gone.stderr, /cannot reach the agent/);
    } finally {
      await teardown(s);
    }
  },
);
