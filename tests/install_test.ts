/**
 * install.sh, the systemd unit and the rsyslog snippet, tested as shipped:
 * installs into temporary roots (`--root`), downloads from a file server on
 * 127.0.0.1, shellcheck, systemd-analyze and rsyslogd -N1 on the real files,
 * and the snippet carrying messages from a real rsyslogd through the agent.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { startAgent } from "./_helpers/agent_process.ts";
import { Collector } from "./_helpers/collector.ts";
import { freePort } from "./_helpers/free_port.ts";
import { startRsyslogd } from "./_helpers/rsyslogd.ts";
import { sendSeq } from "./_helpers/sender.ts";
import { readLines } from "./_helpers/seq_check.ts";
import { waitFor } from "./_helpers/wait_for.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const INSTALL_SH = `${REPO}install.sh`;
const MAIN = `${REPO}main.ts`;
const UNIT = `${REPO}packaging/systemd/syslog-agent.service`;
const RSYSLOG_SNIPPET = `${REPO}packaging/rsyslog/90-syslog-agent.conf`;
const TARGET = `${Deno.build.arch}-unknown-linux-gnu`;
const UNIT_PATH_ON_HOST = "/etc/systemd/system/syslog-agent.service";
/** The packaging files install.sh embeds, and where it installs them. */
const EMBEDDED: [string, string][] = [
  ["packaging/systemd/syslog-agent.service", "/etc/systemd/system/syslog-agent.service"],
  ["packaging/rsyslog/90-syslog-agent.conf", "/etc/rsyslog.d/90-syslog-agent.conf"],
  ["packaging/logrotate/syslog-agent", "/etc/logrotate.d/syslog-agent"],
];

const opts = { sanitizeOps: false, sanitizeResources: false };
const dec = new TextDecoder();

interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args…`; never throws for a non-zero exit. */
async function run(
  cmd: string,
  args: string[],
  o: { env?: Record<string, string>; stdin?: string; cwd?: string } = {},
): Promise<Output> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: o.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    ...(o.env ? { env: o.env } : {}),
    ...(o.cwd ? { cwd: o.cwd } : {}),
  }).spawn();
  if (o.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(o.stdin));
    await w.close();
  }
  const out = await child.output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** `sh install.sh ARGS…` (dash on Debian: the POSIX shell that curl | sh gets). */
function install(args: string[], env?: Record<string, string>): Promise<Output> {
  return run("/bin/sh", [INSTALL_SH, ...args], env ? { env } : {});
}

function show(o: Output): string {
  return `exit ${o.code}\n--- stdout:\n${o.stdout}--- stderr:\n${o.stderr}`;
}

/** A stand-in for the compiled binary: the same program, run by deno. */
async function fakeAgent(dir: string): Promise<string> {
  const path = `${dir}/agent-${TARGET}`;
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\nexec '${Deno.execPath()}' run --allow-all --unstable-net '${MAIN}' "$@"\n`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

/** One row of README's "What files land where" table. */
interface Row {
  path: string;
  madeBy: string;
  mode: string;
  uninstall: string;
  purge: string;
}

/** The rows of README's table for what install.sh itself lays down. */
async function documentedFiles(): Promise<Row[]> {
  const readme = await Deno.readTextFile(`${REPO}README.md`);
  const section = readme.split(/^## /m).find((s) => s.startsWith("What files land where"));
  assert.ok(section, 'README.md has no "## What files land where" section');
  const rows: Row[] = [];
  for (const line of section.split("\n")) {
    const m = line.match(/^\|\s*`([^`]+)`\s*\|([^|]*)\|([^|]*)\|([^|]*)\|([^|]*)\|\s*$/);
    if (!m) continue;
    const [path, madeBy, mode, uninstall, purge] = m.slice(1).map((s) => (s ?? "").trim());
    rows.push({ path: path!, madeBy: madeBy!, mode: mode!, uninstall: uninstall!, purge: purge! });
  }
  const ours = rows.filter((r) => r.madeBy.startsWith("install.sh"));
  assert.ok(ours.length >= 7, `README's table lists too few install.sh files:\n${section}`);
  return ours;
}

/** Every path under `root` (as absolute paths inside the root), with its type and mode. */
async function walk(root: string): Promise<Map<string, { dir: boolean; mode: number }>> {
  const out = new Map<string, { dir: boolean; mode: number }>();
  const visit = async (rel: string): Promise<void> => {
    for await (const e of Deno.readDir(`${root}${rel}`)) {
      const p = `${rel}/${e.name}`;
      const st = await Deno.lstat(`${root}${p}`);
      out.set(p, { dir: st.isDirectory, mode: (st.mode ?? 0) & 0o777 });
      if (st.isDirectory) await visit(p);
    }
  };
  await visit("");
  return out;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "agent-install-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test(
  "install.sh --root: the documented files and modes; a second run changes nothing; uninstall keeps config and spool; purge removes them",
  opts,
  async () => {
    await withTemp(async (dir) => {
      const rows = await documentedFiles();
      const bin = await fakeAgent(dir);
      const root = `${dir}/root`;
      const args = ["--root", root, "--binary", bin];
      const first = await install([
        ...args,
        "--collector",
        "a:1",
        "--collector",
        "b:2",
        "--protocol",
        "tcp",
      ]);
      assert.equal(first.code, 0, show(first));

      // Exactly the documented files, and only the directories that hold them.
      const tree = await walk(root);
      const files = [...tree].filter(([, e]) => !e.dir).map(([p]) => p).sort();
      const documented = rows.filter((r) => !r.path.endsWith("/")).map((r) => r.path).sort();
      assert.deepEqual(files, documented, show(first));
      for (const [p, e] of tree) {
        if (!e.dir) continue;
        const ok = rows.some((r) => r.path === `${p}/` || r.path.startsWith(`${p}/`));
        assert.ok(ok, `undocumented directory ${p}`);
      }
      for (const r of rows) {
        const e = tree.get(r.path.replace(/\/$/, ""));
        assert.ok(e, `${r.path} was not installed`);
        assert.equal(e.mode.toString(8).padStart(4, "0"), r.mode, `mode of ${r.path}`);
      }

      // What lands is what packaging/ holds, byte for byte, and the binary given.
      for (const [src, dest] of EMBEDDED) {
        assert.deepEqual(
          await Deno.readFile(`${root}${dest}`),
          await Deno.readFile(`${REPO}${src}`),
          `${dest} differs from ${src}: run \`deno task embed\``,
        );
      }
      assert.deepEqual(
        await Deno.readFile(`${root}/usr/local/bin/agent`),
        await Deno.readFile(bin),
      );

      // The config from --collector a:1 --collector b:2 --protocol tcp is valid.
      const conf = `${root}/etc/syslog-agent/agent.json`;
      assert.deepEqual(JSON.parse(await Deno.readTextFile(conf)), {
        collectors: [{ address: "a:1", protocol: "tcp" }, { address: "b:2", protocol: "tcp" }],
      });
      const check = await run(Deno.execPath(), ["run", "--allow-all", MAIN, "check-config", conf]);
      assert.equal(check.code, 0, show(check));

      // Again: nothing changes, and it says so.
      const mtimes = new Map<string, number | undefined>();
      for (const p of tree.keys()) {
        mtimes.set(p, (await Deno.lstat(`${root}${p}`)).mtime?.getTime());
      }
      const second = await install([...args, "--collector", "a:1"]);
      assert.equal(second.code, 0, show(second));
      assert.doesNotMatch(second.stdout, /^(installed|updated|created|removed):/m, show(second));
      assert.match(second.stdout, /^nothing to do/m);
      for (const p of [...documented, "/var/spool/syslog-agent"]) {
        assert.match(second.stdout, new RegExp(`^unchanged: ${root}${p}\\b`, "m"), p);
      }
      for (const p of tree.keys()) {
        assert.equal((await Deno.lstat(`${root}${p}`)).mtime?.getTime(), mtimes.get(p), p);
      }

      // --uninstall removes what it installed and keeps the config and the spool.
      const un = await install(["--root", root, "--uninstall"]);
      assert.equal(un.code, 0, show(un));
      for (const r of rows) {
        assert.equal(
          await exists(`${root}${r.path}`),
          r.uninstall === "kept",
          `${r.path} after --uninstall`,
        );
      }
      const again = await install(["--root", root, "--uninstall"]);
      assert.equal(again.code, 0, show(again));
      assert.match(again.stdout, /^nothing to do/m);

      // --purge removes those too.
      const purge = await install(["--root", root, "--purge"]);
      assert.equal(purge.code, 0, show(purge));
      for (const r of rows) {
        assert.equal(r.purge, "removed");
        assert.equal(await exists(`${root}${r.path}`), false, `${r.path} after --purge`);
      }
    });
  },
);

Deno.test(
  "install.sh downloads from --base-url, verifies SHA256SUMS, and installs nothing on a mismatch or a failed download",
  opts,
  async () => {
    await withTemp(async (dir) => {
      const binary = await Deno.readFile(await fakeAgent(dir));
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", binary));
      const sum = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
      const files = new Map<string, Uint8Array<ArrayBuffer>>();
      const requests: string[] = [];
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: () => {} },
        (req) => {
          const path = new URL(req.url).pathname;
          requests.push(path);
          const body = files.get(path);
          return body ? new Response(body) : new Response("not found", { status: 404 });
        },
      );
      try {
        const base = `http://127.0.0.1:${server.addr.port}/v1`;
        const enc = new TextEncoder();
        files.set(`/v1/agent-${TARGET}`, binary);

        // A SHA256SUMS that does not match: a clear error, nothing written.
        const wrong = "0".repeat(64);
        files.set("/v1/SHA256SUMS", enc.encode(`${wrong}  agent-${TARGET}\n`));
        const bad = `${dir}/bad`;
        await Deno.mkdir(bad);
        const mismatch = await install(["--root", bad, "--base-url", base, "--collector", "a:1"]);
        assert.notEqual(mismatch.code, 0, show(mismatch));
        assert.match(
          mismatch.stderr,
          new RegExp(`checksum mismatch for agent-${TARGET}.*${wrong}.*${sum}`),
        );
        assert.match(mismatch.stderr, /nothing was installed/);
        assert.deepEqual([...Deno.readDirSync(bad)], [], "files were written despite the mismatch");

        // A file the server does not have: the same.
        files.delete(`/v1/agent-${TARGET}`);
        const missing = await install(["--root", bad, "--base-url", base, "--collector", "a:1"]);
        assert.notEqual(missing.code, 0, show(missing));
        assert.match(missing.stderr, /download failed: .*agent-/);
        assert.deepEqual([...Deno.readDirSync(bad)], []);

        // The right SHA256SUMS (sha256sum's binary-mode "*" too), base URL from the environment.
        files.set(`/v1/agent-${TARGET}`, binary);
        files.set(
          "/v1/SHA256SUMS",
          enc.encode(`${"1".repeat(64)}  agent-other\n${sum} *agent-${TARGET}\n`),
        );
        requests.length = 0;
        const good = `${dir}/good`;
        const ok = await install(["--root", good, "--collector", "a:1"], {
          SYSLOG_AGENT_BASE_URL: base,
        });
        assert.equal(ok.code, 0, show(ok));
        assert.deepEqual(requests.sort(), ["/v1/SHA256SUMS", `/v1/agent-${TARGET}`].sort());
        assert.match(ok.stdout, new RegExp(`verified: agent-${TARGET} sha256 ${sum}`));
        assert.deepEqual(await Deno.readFile(`${good}/usr/local/bin/agent`), binary);
        assert.equal((await Deno.stat(`${good}/usr/local/bin/agent`)).mode! & 0o777, 0o755);

        // --binary with --sha256sums is checked the same way.
        const sums = `${dir}/SHA256SUMS`;
        await Deno.writeTextFile(sums, `${wrong}  agent-${TARGET}\n`);
        const local = await install([
          "--root",
          bad,
          "--binary",
          `${dir}/agent-${TARGET}`,
          "--sha256sums",
          sums,
          "--collector",
          "a:1",
        ]);
        assert.notEqual(local.code, 0, show(local));
        assert.match(local.stderr, /checksum mismatch/);
        assert.deepEqual([...Deno.readDirSync(bad)], []);
      } finally {
        await server.shutdown();
      }
    });
  },
);

Deno.test(
  "install.sh never touches an existing agent.json; --dry-run changes nothing; bad use is refused",
  opts,
  async () => {
    await withTemp(async (dir) => {
      const bin = await fakeAgent(dir);
      const root = `${dir}/root`;
      const conf = `${root}/etc/syslog-agent/agent.json`;
      await Deno.mkdir(`${root}/etc/syslog-agent`, { recursive: true });
      const mine = '{ "collectors": [{ "address": "keep.example.org:6514" }] }\n';
      await Deno.writeTextFile(conf, mine);
      await Deno.chmod(conf, 0o600);
      const before = (await Deno.stat(conf)).mtime?.getTime();
      const r = await install(["--root", root, "--binary", bin, "--collector", "other:1"]);
      assert.equal(r.code, 0, show(r));
      assert.equal(await Deno.readTextFile(conf), mine);
      assert.equal((await Deno.stat(conf)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(conf)).mtime?.getTime(), before);
      assert.match(r.stdout, /never overwritten/);

      const dry = `${dir}/dry`;
      await Deno.mkdir(dry);
      const plan = await install([
        "--root",
        dry,
        "--binary",
        bin,
        "--collector",
        "a:1",
        "--dry-run",
      ]);
      assert.equal(plan.code, 0, show(plan));
      assert.match(plan.stdout, /^would install: .*\/usr\/local\/bin\/agent/m);
      assert.deepEqual([...Deno.readDirSync(dry)], []);

      const noCollector = await install(["--root", dry, "--binary", bin]);
      assert.equal(noCollector.code, 2, show(noCollector));
      assert.match(noCollector.stderr, /--collector HOST:PORT/);
      const badCollector = await install(["--root", dry, "--binary", bin, "--collector", "logs"]);
      assert.equal(badCollector.code, 2, show(badCollector));
      assert.match(badCollector.stderr, /expected HOST:PORT.*got "logs"/);
      const badProtocol = await install(["--root", dry, "--collector", "a:1", "--protocol", "udp"]);
      assert.equal(badProtocol.code, 2, show(badProtocol));
      assert.deepEqual([...Deno.readDirSync(dry)], []);

      // Without --root it needs root, and says so (run as nobody, the script on stdin).
      const script = await Deno.readTextFile(INSTALL_SH);
      const asNobody = await run(
        "setpriv",
        [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          "/bin/sh",
          "-s",
          "--",
          "--collector",
          "a:1",
        ],
        { stdin: script, cwd: "/" },
      );
      assert.equal(asNobody.code, 1, show(asNobody));
      assert.match(asNobody.stderr, /must run as root.*--root DIR/);
    });
  },
);

Deno.test(
  "install.sh leaves the logrotate snippet out while the distribution's rsyslog rotation is there, and says how to switch",
  opts,
  async () => {
    await withTemp(async (dir) => {
      const bin = await fakeAgent(dir);
      const root = `${dir}/root`;
      const distro = `${root}/etc/logrotate.d/rsyslog`;
      await Deno.mkdir(`${root}/etc/logrotate.d`, { recursive: true });
      await Deno.copyFile(`${REPO}packaging/logrotate/syslog-agent`, distro); // same files
      const r = await install(["--root", root, "--binary", bin, "--collector", "a:1"]);
      assert.equal(r.code, 0, show(r));
      assert.equal(await exists(`${root}/etc/logrotate.d/syslog-agent`), false);
      assert.match(r.stdout, /^skipped: .*\/etc\/logrotate\.d\/syslog-agent .*rsyslogd\.mode/m);

      // Switched: the distribution's file gone, ours goes in; uninstall says what is left.
      await Deno.remove(distro);
      const switched = await install(["--root", root, "--binary", bin]);
      assert.equal(switched.code, 0, show(switched));
      assert.match(switched.stdout, /^installed: .*\/etc\/logrotate\.d\/syslog-agent \(0644\)$/m);
      const un = await install(["--root", root, "--uninstall"]);
      assert.equal(un.code, 0, show(un));
      assert.match(un.stdout, /no longer rotated/);

      // Both there (the distribution's restored): kept up to date, with a warning.
      await install(["--root", root, "--binary", bin]);
      await Deno.writeTextFile(distro, "/var/log/syslog {\n}\n");
      const both = await install(["--root", root, "--binary", bin]);
      assert.equal(both.code, 0, show(both));
      assert.match(both.stderr, /both .*syslog-agent and .*rsyslog rotate/);
    });
  },
);

Deno.test("install.sh is clean under shellcheck -s sh", async () => {
  const r = await run("shellcheck", ["-s", "sh", INSTALL_SH]);
  assert.equal(r.code, 0, show(r));
});

Deno.test(
  "the systemd unit: the contract's settings, systemd-analyze verify clean, security exposure reported",
  opts,
  async () => {
    const text = await Deno.readTextFile(UNIT);
    const settings = new Set(text.split("\n").map((l) => l.trim()).filter((l) => /^\w+=/.test(l)));
    for (
      const s of [
        "Type=notify",
        "NotifyAccess=main",
        "WatchdogSec=30s",
        "Restart=always",
        "RestartSec=1s",
        "ExecStart=/usr/local/bin/agent run --config /etc/syslog-agent/agent.json",
        "ExecReload=/usr/local/bin/agent reload",
        "RuntimeDirectory=syslog-agent",
        "KillMode=mixed",
        "TimeoutStopSec=15s",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/spool/syslog-agent",
        "NoNewPrivileges=yes",
        "WantedBy=multi-user.target",
      ]
    ) {
      assert.ok(settings.has(s), `the unit lacks ${s}`);
    }
    await withTemp(async (dir) => {
      // verify checks that ExecStart= exists: a copy runs an existing program instead.
      await Deno.copyFile("/bin/true", `${dir}/agent`);
      const copy = `${dir}/syslog-agent.service`;
      await Deno.writeTextFile(copy, text.replaceAll("/usr/local/bin/agent", `${dir}/agent`));
      const verify = await run("systemd-analyze", ["verify", copy]);
      assert.equal(verify.code, 0, show(verify));
      assert.equal(
        verify.stdout + verify.stderr,
        "",
        `systemd-analyze verify is not clean:\n${show(verify)}`,
      );

      // The check can fail: a broken copy is refused.
      await Deno.writeTextFile(
        copy,
        text.replace("Type=notify", "Type=notifyy").replaceAll(
          "/usr/local/bin/agent",
          `${dir}/agent`,
        ),
      );
      const broken = await run("systemd-analyze", ["verify", copy]);
      assert.match(broken.stdout + broken.stderr, /notifyy/);

      const security = await run("systemd-analyze", ["security", "--offline=true", UNIT]);
      assert.equal(security.code, 0, show(security));
      const m = security.stdout.match(
        /Overall exposure level for syslog-agent\.service: ([\d.]+) (\w+)/,
      );
      assert.ok(m, show(security));
      const score = Number(m[1]);
      console.log(`summary: systemd-analyze security exposure ${score} ${m[2]}`);
      assert.ok(score <= 4, `exposure ${score} is worse than 4.0`);
    });
  },
);

Deno.test(
  "the rsyslog snippet loads: rsyslogd -N1 on a config that includes the installed file",
  opts,
  async () => {
    await withTemp(async (dir) => {
      const root = `${dir}/root`;
      const r = await install([
        "--root",
        root,
        "--binary",
        await fakeAgent(dir),
        "--collector",
        "a:1",
      ]);
      assert.equal(r.code, 0, show(r));
      const snippet = `${root}/etc/rsyslog.d/90-syslog-agent.conf`;
      const conf = `${dir}/rsyslog.conf`;
      await Deno.writeTextFile(
        conf,
        `global(workDirectory="${dir}")\ninclude(file="${snippet}")\n`,
      );
      const ok = await run("rsyslogd", ["-N1", "-f", conf]);
      assert.equal(ok.code, 0, show(ok));

      // The check can fail: a snippet with a typo is refused.
      await Deno.writeTextFile(
        snippet,
        (await Deno.readTextFile(snippet)).replace("target=", "tagret="),
      );
      const bad = await run("rsyslogd", ["-N1", "-f", conf]);
      assert.notEqual(bad.code, 0, show(bad));
    });
  },
);

Deno.test(
  "the rsyslog snippet carries messages from a real rsyslogd through the agent, and keeps them while the agent restarts",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "agent-snippet-" });
    const stops: (() => Promise<unknown>)[] = [];
    try {
      const collector = await Collector.start(`${dir}/collector`);
      stops.push(() => collector.stop());
      const agentPort = await freePort();
      const agentOpts = {
        dir: `${dir}/agent`,
        readyPort: agentPort,
        config: {
          inputs: [{ type: "tcp", address: `127.0.0.1:${agentPort}` }],
          collectors: [{ address: `127.0.0.1:${collector.port}` }],
        },
      };
      let agent = await startAgent(agentOpts);
      stops.push(() => agent.stop("SIGKILL"));

      // The shipped snippet, pointed at this test's agent instead of 127.0.0.1:5514.
      const snippet = await Deno.readTextFile(RSYSLOG_SNIPPET);
      assert.match(snippet, /port="5514"/);
      const inPort = await freePort();
      await Deno.mkdir(`${dir}/client`);
      const client = await startRsyslogd({
        dir: `${dir}/client`,
        conf: `global(workDirectory="${dir}/client" net.enableDNS="off")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="${inPort}")
${snippet.replace('port="5514"', `port="${agentPort}"`)}`,
        readyPort: inPort,
      });
      stops.push(() => client.stop());

      const send = async (text: string): Promise<void> => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: inPort });
        try {
          await conn.write(new TextEncoder().encode(`<14>1 - host snippet-test - - - ${text}\n`));
        } finally {
          conn.close();
        }
      };
      const arrived = (text: string) => async () =>
        (await collector.lines()).some((l) => l.includes(text));

      await send("first-message");
      await waitFor(arrived("first-message"), {
        timeoutMs: 15_000,
        what: "the first message at the collector",
      });

      // The agent goes away; rsyslogd keeps the message in its action queue and
      // sends it once the agent is back.
      await agent.stop();
      await send("while-agent-down");
      agent = await startAgent(agentOpts);
      await waitFor(arrived("while-agent-down"), {
        timeoutMs: 30_000,
        what: "the message sent while the agent was down, at the collector",
      });
    } finally {
      for (const stop of stops.reverse()) await stop().catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);

Deno.test(
  "with the agent gone for good, rsyslogd keeps writing its own files: the snippet's queue fills and drops instead of blocking",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "agent-snippet-" });
    let client: Awaited<ReturnType<typeof startRsyslogd>> | undefined;
    try {
      const snippet = await Deno.readTextFile(RSYSLOG_SNIPPET);
      const deadPort = await freePort(); // nothing listens there
      const inPort = await freePort();
      const local = `${dir}/local.log`;
      client = await startRsyslogd({
        dir,
        conf: `global(workDirectory="${dir}" net.enableDNS="off")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="${inPort}")
${snippet.replace('port="5514"', `port="${deadPort}"`)}
action(type="omfile" file="${local}" asyncWriting="off" flushOnTXEnd="on")
`,
        readyPort: inPort,
      });
      // More than the snippet's queue.size (10000): once it is full, every
      // further message must be dropped from that queue at once, not wait on it.
      const count = 15_000;
      const sent = await sendSeq({
        port: inPort,
        count,
        size: 120,
        framing: "lf",
        tag: "blocktest",
      });
      assert.equal(sent.sent, count);
      const t0 = performance.now();
      const seen = await waitFor(async () => {
        const n = (await readLines(local)).filter((l) => l.includes("blocktest")).length;
        return n >= count && n;
      }, { timeoutMs: 30_000, what: `all ${count} messages in rsyslogd's local file` });
      console.log(
        `summary: agent down: ${seen}/${count} messages written locally by rsyslogd within ${
          Math.round(performance.now() - t0)
        } ms of the last send`,
      );
    } finally {
      await client?.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);

/** A fake systemctl that records its calls and keeps enabled/active state in files. */
const FAKE_SYSTEMCTL = `#!/bin/sh
state=$FAKE_STATE
echo "systemctl $*" >>"$state/calls"
for a in "$@"; do case "$a" in --*) ;; *) set -- "$@" "$a" ;; esac; shift; done
verb=$1
unit=\${2:-}
case "$verb" in
  is-enabled) [ -e "$state/enabled-$unit" ] ;;
  is-active) [ "$unit" = rsyslog.service ] || [ -e "$state/active-$unit" ] ;;
  enable) touch "$state/enabled-$unit" ;;
  start | restart) touch "$state/active-$unit" ;;
  disable) rm -f "$state/enabled-$unit" "$state/active-$unit" ;;
  daemon-reload) ;;
  *) echo "fake systemctl: unexpected $verb" >&2; exit 1 ;;
esac
`;

/**
 * Runs the install.sh invocations `steps` (name → arguments) one after the
 * other as on a host that systemd runs, inside a private mount namespace:
 * /etc, /usr/local/bin and /var/spool are overlays whose changes vanish with
 * it, /run is a tmpfs with /run/systemd/system, and systemctl is a fake that
 * records its calls. The real host's files are never written.
 */
async function onSystemdHost(
  dir: string,
  steps: [string, string[]][],
): Promise<{ results: Map<string, Output & { calls: string[] }>; after: string }> {
  await Deno.mkdir(`${dir}/fakebin`);
  await Deno.mkdir(`${dir}/state`);
  await Deno.mkdir(`${dir}/out`);
  await Deno.mkdir(`${dir}/ov`);
  await Deno.writeTextFile(`${dir}/fakebin/systemctl`, FAKE_SYSTEMCTL);
  await Deno.chmod(`${dir}/fakebin/systemctl`, 0o755);
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const lines = [
    "set -u",
    `T=${q(dir)}`,
    'mount -t tmpfs tmpfs "$T/ov" || exit 90',
    "for d in /etc /usr/local/bin /var/spool; do",
    '  mkdir -p "$T/ov$d/u" "$T/ov$d/w"',
    '  mount -t overlay overlay -o "lowerdir=$d,upperdir=$T/ov$d/u,workdir=$T/ov$d/w" "$d" || exit 91',
    "done",
    "mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system || exit 92",
    'export PATH="$T/fakebin:$PATH" FAKE_STATE="$T/state"',
    ...steps.map(([name, args]) =>
      `echo '--- ${name}' >>"$T/state/calls"; /bin/sh ${q(INSTALL_SH)} ${
        args.map(q).join(" ")
      } >"$T/out/${name}.stdout" 2>"$T/out/${name}.stderr"; echo $? >"$T/out/${name}.code"`
    ),
    'ls -d /usr/local/bin/agent /etc/systemd/system/syslog-agent.service /etc/syslog-agent /var/spool/syslog-agent /etc/rsyslog.d/90-syslog-agent.conf /etc/logrotate.d/syslog-agent >"$T/out/after" 2>/dev/null',
    "exit 0",
  ];
  const ns = await run("unshare", [
    "--mount",
    "--propagation",
    "private",
    "--fork",
    "/bin/sh",
    "-c",
    lines.join("\n"),
  ]);
  assert.equal(ns.code, 0, `mount namespace setup failed: ${show(ns)}`);
  const calls = (await Deno.readTextFile(`${dir}/state/calls`)).split(/^--- /m).slice(1);
  const results = new Map<string, Output & { calls: string[] }>();
  for (const [i, [name]] of steps.entries()) {
    results.set(name, {
      code: Number(await Deno.readTextFile(`${dir}/out/${name}.code`)),
      stdout: await Deno.readTextFile(`${dir}/out/${name}.stdout`),
      stderr: await Deno.readTextFile(`${dir}/out/${name}.stderr`),
      calls: (calls[i] ?? "").split("\n").slice(1).filter((l) => l !== ""),
    });
  }
  return { results, after: await Deno.readTextFile(`${dir}/out/after`) };
}

Deno.test(
  "install.sh on a systemd host: enables and starts once, restarts only on upgrade, uninstall stops it (private mount namespace, fake systemctl)",
  opts,
  async () => {
    const hostFiles = [
      "/etc/syslog-agent",
      "/usr/local/bin/agent",
      UNIT_PATH_ON_HOST,
      "/etc/rsyslog.d/90-syslog-agent.conf",
      "/etc/logrotate.d/syslog-agent",
      "/var/spool/syslog-agent",
    ];
    const before = await Promise.all(hostFiles.map(exists));
    await withTemp(async (dir) => {
      const v1 = await fakeAgent(dir);
      const v2 = `${dir}/agent-v2`;
      await Deno.writeTextFile(v2, (await Deno.readTextFile(v1)) + "# v2\n");
      await Deno.chmod(v2, 0o755);
      const { results, after } = await onSystemdHost(dir, [
        ["install", ["--binary", v1, "--collector", "127.0.0.1:1"]],
        ["again", ["--binary", v1]],
        ["upgrade", ["--binary", v2]],
        ["uninstall", ["--uninstall"]],
      ]);
      const step = (name: string) => {
        const r = results.get(name);
        assert.ok(r);
        assert.equal(r.code, 0, `${name}: ${show(r)}`);
        return r;
      };

      const install = step("install");
      assert.deepEqual(install.calls, [
        "systemctl daemon-reload",
        "systemctl is-enabled --quiet syslog-agent.service",
        "systemctl enable --quiet syslog-agent.service",
        "systemctl is-active --quiet syslog-agent.service",
        "systemctl start syslog-agent.service",
        "systemctl is-active --quiet rsyslog.service",
        "systemctl restart rsyslog.service",
      ], show(install));
      assert.match(install.stdout, /^binary: agent /m);
      // This host has the distribution's /etc/logrotate.d/rsyslog (the rsyslog package).
      assert.match(install.stdout, /^skipped: \/etc\/logrotate\.d\/syslog-agent /m);
      assert.match(install.stdout, /^done\. Check it with: agent status$/m);

      const again = step("again");
      assert.deepEqual(again.calls, [
        "systemctl is-enabled --quiet syslog-agent.service",
        "systemctl is-active --quiet syslog-agent.service",
      ], show(again));
      assert.match(again.stdout, /^unchanged: syslog-agent\.service is running$/m);
      assert.match(again.stdout, /^nothing to do/m);

      const upgrade = step("upgrade");
      assert.match(upgrade.stdout, /^updated: \/usr\/local\/bin\/agent \(0755\)$/m);
      assert.ok(upgrade.calls.includes("systemctl restart syslog-agent.service"), show(upgrade));
      assert.ok(!upgrade.calls.includes("systemctl daemon-reload"), show(upgrade));
      assert.ok(!upgrade.calls.includes("systemctl restart rsyslog.service"), show(upgrade));

      const uninstall = step("uninstall");
      assert.deepEqual(uninstall.calls, [
        "systemctl disable --now --quiet syslog-agent.service",
        "systemctl daemon-reload",
        "systemctl is-active --quiet rsyslog.service",
        "systemctl restart rsyslog.service",
      ], show(uninstall));
      // Inside the namespace, after uninstall: config and spool kept.
      assert.deepEqual(after.trim().split("\n").sort(), [
        "/etc/syslog-agent",
        "/var/spool/syslog-agent",
      ]);
    });
    // And the real host was not touched.
    assert.deepEqual(await Promise.all(hostFiles.map(exists)), before);
  },
);
