/**
 * End-to-end: TLS (RFC 5425) to a real rsyslogd collector (gtls driver), with
 * a CA, server certificate and client certificate made here with `openssl`.
 */

import assert from "node:assert/strict";
import {
  type AgentProcess,
  checkSeqs,
  freePort,
  RsyslogCollector,
  rsyslogString,
  sendSeq,
  startAgent,
  waitFor,
} from "../testkit/mod.ts";
import { ConfigError, parseConfig } from "../config/mod.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function openssl(dir: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Files made by {@linkcode makePki}. */
interface Pki {
  ca: string;
  otherCa: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/**
 * A CA, a server certificate for `collector.test` and 127.0.0.1, a client
 * certificate for `agent.test`, both signed by the CA, and an unrelated CA.
 */
async function makePki(dir: string): Promise<Pki> {
  await Deno.mkdir(dir, { recursive: true });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  for (const name of ["ca", "other-ca"]) {
    await openssl(dir, [
      "req",
      "-x509",
      ...ec,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-subj",
      `/CN=${name} for syslog-agent tests`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
  }
  const leaf = async (name: string, cn: string, ext: string) => {
    await Deno.writeTextFile(`${dir}/${name}.ext`, ext);
    await openssl(dir, [
      "req",
      ...ec,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${cn}`,
    ]);
    await openssl(dir, [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
    ]);
  };
  await leaf(
    "server",
    "collector.test",
    "subjectAltName=DNS:collector.test,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n" +
      "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
  );
  await leaf(
    "client",
    "agent.test",
    "subjectAltName=DNS:agent.test\nbasicConstraints=CA:FALSE\n" +
      "keyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
  );
  return {
    ca: `${dir}/ca.pem`,
    otherCa: `${dir}/other-ca.pem`,
    serverCert: `${dir}/server.pem`,
    serverKey: `${dir}/server.key`,
    clientCert: `${dir}/client.pem`,
    clientKey: `${dir}/client.key`,
  };
}

/**
 * An rsyslogd TLS collector (gtls): on `port`, server authentication only
 * (`anon` towards clients); on `x509Port`, clients must present a certificate
 * signed by the CA (`x509/certvalid`). Every message goes to `file` as sent.
 */
function tlsCollectorConf(
  c: { port: number; dir: string; file: string },
  pki: Pki,
  x509Port: number,
): string {
  const q = rsyslogString;
  return `# TLS collector written by tests/tls_test.ts
global(
  workDirectory=${q(c.dir)}
  maxMessageSize="256k"
  parser.escapeControlCharactersOnReceive="off"
  net.enableDNS="off"
  DefaultNetstreamDriverCAFile=${q(pki.ca)}
  DefaultNetstreamDriverCertFile=${q(pki.serverCert)}
  DefaultNetstreamDriverKeyFile=${q(pki.serverKey)}
)
module(load="imtcp" maxFrameSize="262144"
       StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
template(name="collector_raw" type="string" string="%rawmsg%\\n")
ruleset(name="collector") {
  action(type="omfile" file=${q(c.file)} template="collector_raw"
         asyncWriting="off" flushOnTXEnd="on")
}
input(type="imtcp" address="127.0.0.1" port="${c.port}" ruleset="collector")
input(type="imtcp" address="127.0.0.1" port="${x509Port}" ruleset="collector"
      streamDriver.authMode="x509/certvalid")
`;
}

interface Setup {
  dir: string;
  pki: Pki;
  collector: RsyslogCollector;
  x509Port: number;
  agents: AgentProcess[];
}

async function setup(): Promise<Setup> {
  const dir = await Deno.makeTempDir({ prefix: "agent-tls-" });
  const pki = await makePki(`${dir}/pki`);
  const x509Port = await freePort();
  const collector = await RsyslogCollector.start(`${dir}/collector`, {
    conf: (c) => tlsCollectorConf(c, pki, x509Port),
  });
  await waitFor(async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: x509Port });
    conn.close();
    return true;
  }, { timeoutMs: 10_000, what: `the x509 listener on ${x509Port}` });
  return { dir, pki, collector, x509Port, agents: [] };
}

async function teardown(s: Setup): Promise<void> {
  for (const a of s.agents) await a.stop("SIGKILL").catch(() => {});
  await s.collector.stop().catch(() => {});
  await Deno.remove(s.dir, { recursive: true }).catch(() => {});
}

/** An agent with a TCP input, forwarding to `collectors`. */
async function agent(
  s: Setup,
  name: string,
  collectors: Record<string, unknown>[],
  env?: Record<string, string>,
): Promise<{ agent: AgentProcess; port: number }> {
  const port = await freePort();
  const a = await startAgent({
    dir: `${s.dir}/${name}`,
    readyPort: port,
    env,
    config: {
      inputs: [{ type: "tcp", address: `127.0.0.1:${port}` }],
      collectors: collectors.map((c) => ({ connectTimeoutMs: 1000, writeTimeoutMs: 2000, ...c })),
      log: { level: "debug" },
    },
  });
  s.agents.push(a);
  return { agent: a, port };
}

interface CollectorView {
  address: string;
  state: string;
  lastError: string;
}

Deno.test(
  "TLS: CA + server name, and a client certificate; a collector SIGKILL costs duplicates, not gaps",
  opts,
  async () => {
    const s = await setup();
    try {
      const total = 20_000;
      // Verified by name (collector.test, not the address) against the test CA.
      const named = await agent(s, "named", [{
        address: `127.0.0.1:${s.collector.port}`,
        protocol: "tls",
        ca: s.pki.ca,
        serverName: "collector.test",
      }]);
      // Presents a client certificate to a listener that requires one.
      const mutual = await agent(s, "mutual", [{
        address: `127.0.0.1:${s.x509Port}`,
        protocol: "tls",
        ca: s.pki.ca,
        cert: s.pki.clientCert,
        key: s.pki.clientKey,
      }]);
      const sending = Promise.all([
        sendSeq({
          port: named.port,
          count: total,
          size: 200,
          framing: "octet-counted",
          tag: "named",
          ratePerSec: 10_000,
        }),
        sendSeq({
          port: mutual.port,
          count: total,
          size: 200,
          framing: "octet-counted",
          tag: "mutual",
          ratePerSec: 10_000,
        }),
      ]);
      const seen = await waitFor(async () => {
        const l = await s.collector.lines();
        const n = checkSeqs(l, total, "named").unique;
        const m = checkSeqs(l, total, "mutual").unique;
        return n >= total / 4 && m >= total / 4 && n + m;
      }, { timeoutMs: 20_000, what: "a quarter of each stream over TLS" });
      assert.ok(seen < 2 * total, "the kill comes mid-stream");
      await s.collector.kill();
      await waitFor(async () => {
        const states = await Promise.all(
          [named, mutual].map(async (x) =>
            ((await x.agent.statusJson()).collectors as CollectorView[])[0]!.state
          ),
        );
        return states.every((st) => st !== "up");
      }, { timeoutMs: 10_000, what: "both agents to see the collector go" });
      await s.collector.restart();
      await sending;
      const reports = await waitFor(async () => {
        const l = await s.collector.lines();
        const r = ["named", "mutual"].map((tag) => checkSeqs(l, total, tag));
        return r.every((x) => x.missingCount === 0) && r;
      }, { timeoutMs: 30_000, what: "both streams complete at the collector" }).catch(async (e) => {
        const l = await s.collector.lines();
        throw new Error(
          `${e.message}: named ${JSON.stringify(checkSeqs(l, total, "named"))}, mutual ${
            JSON.stringify(checkSeqs(l, total, "mutual"))
          }`,
        );
      });
      for (const x of [named, mutual]) {
        const st = await x.agent.statusJson();
        const c = (st.collectors as (CollectorView & { protocol: string })[])[0]!;
        assert.equal(c.protocol, "tls");
        assert.equal(c.state, "up");
      }
      console.log(
        `summary: tls: named ${reports[0]!.unique}/${total} (duplicates ${
          reports[0]!.duplicates
        }), ` +
          `client certificate ${reports[1]!.unique}/${total} (duplicates ${
            reports[1]!.duplicates
          }) across a collector SIGKILL at ${seen} delivered`,
      );
    } finally {
      await teardown(s);
    }
  },
);

Deno.test(
  "TLS: a wrong CA or server name is refused, reported in status and log, never sent in plain text",
  opts,
  async () => {
    const s = await setup();
    try {
      const address = `127.0.0.1:${s.collector.port}`;
      const { agent: a, port } = await agent(s, "refused", [
        { address, protocol: "tls", ca: s.pki.otherCa, serverName: "collector.test" },
        { address, protocol: "tls", ca: s.pki.ca, serverName: "wrong.test" },
      ]);
      const total = 500;
      await sendSeq({ port, count: total, size: 200, framing: "octet-counted", tag: "refused" });
      const st = await waitFor(async () => {
        const st = await a.statusJson();
        const c = st.collectors as CollectorView[];
        return c.every((x) => x.lastError !== "") && st;
      }, { timeoutMs: 10_000, what: "both collectors to report an error" });
      const [wrongCa, wrongName] = st.collectors as CollectorView[];
      assert.notEqual(wrongCa!.state, "up");
      assert.notEqual(wrongName!.state, "up");
      assert.match(
        wrongCa!.lastError,
        /TLS handshake with collector .* failed: .*certificate.*UnknownIssuer/,
      );
      assert.match(wrongCa!.lastError, /\(ca\)/, "names the key to fix");
      assert.match(wrongName!.lastError, /certificate not valid for name "wrong\.test"/);
      assert.match(wrongName!.lastError, /serverName/, "names the key to fix");
      assert.ok((st.reasons as string[]).some((r) => /UnknownIssuer/.test(r)), "in the reasons");
      const log = await a.log();
      assert.match(
        log,
        /warn relay: collector 127\.0\.0\.1:\d+ down: TLS handshake .*UnknownIssuer/,
      );
      assert.match(log, /warn relay: collector 127\.0\.0\.1:\d+ down: TLS handshake .*wrong\.test/);
      // Nothing reached the collector: the messages wait in the spool.
      await waitFor(
        async () => ((await a.statusJson()).spool as { messages: number }).messages === total,
        {
          timeoutMs: 10_000,
          what: `all ${total} messages in the spool`,
        },
      );
      assert.equal(checkSeqs(await s.collector.lines(), total, "refused").received, 0);
      console.log(
        `summary: tls refused: wrong CA → ${wrongCa!.lastError.slice(0, 120)}…; wrong name → ${
          wrongName!.lastError.slice(0, 120)
        }…`,
      );
    } finally {
      await teardown(s);
    }
  },
);

Deno.test(
  "TLS: with ca set only that CA is trusted, even when the system store has the collector's CA; publicRoots: true adds the public roots back",
  opts,
  async () => {
    const s = await setup();
    try {
      const address = `127.0.0.1:${s.collector.port}`;
      // The agents' "system store" holds the CA of the collector's certificate; their ca is the other one.
      const env = { DENO_TLS_CA_STORE: "system", SSL_CERT_FILE: s.pki.ca };
      const tls = { address, protocol: "tls", ca: s.pki.otherCa, serverName: "collector.test" };
      const only = await agent(s, "ca-only", [tls], env);
      const open = await agent(s, "public-roots", [{ ...tls, publicRoots: true }], env);
      const total = 200;
      for (const [x, tag] of [[only, "only"], [open, "open"]] as const) {
        await sendSeq({ port: x.port, count: total, size: 100, framing: "octet-counted", tag });
      }
      await waitFor(
        async () => checkSeqs(await s.collector.lines(), total, "open").missingCount === 0,
        { timeoutMs: 15_000, what: "the publicRoots agent's messages at the collector" },
      );
      const c = await waitFor(async () => {
        const c = ((await only.agent.statusJson()).collectors as CollectorView[])[0]!;
        return c.lastError !== "" && c;
      }, { timeoutMs: 10_000, what: "the ca-only agent to report an error" });
      assert.notEqual(c.state, "up");
      assert.match(c.lastError, /TLS handshake with collector .* failed: .*UnknownIssuer/);
      assert.equal(checkSeqs(await s.collector.lines(), total, "only").received, 0);
      console.log(
        `summary: tls trust: ca only → refused (${
          c.lastError.slice(0, 100)
        }…); publicRoots → ${total}/${total} delivered`,
      );
    } finally {
      await teardown(s);
    }
  },
);

Deno.test("TLS config: the tls collectors must agree on trusting the public roots (one root store per process)", () => {
  const tls = { protocol: "tls", ca: "/ca.pem" };
  assert.throws(
    () =>
      parseConfig(
        JSON.stringify({
          collectors: [
            { address: "a:6514", ...tls },
            { address: "b:6514", protocol: "tls" },
          ],
        }),
        "x.json",
      ),
    (e: unknown) =>
      e instanceof ConfigError &&
      /^config: collectors\[1\]: trusts the public roots .* but collectors\[0\] trusts only its ca/
        .test(e.problems.join("\n")),
  );
  const ok = parseConfig(
    JSON.stringify({
      collectors: [
        { address: "a:6514", ...tls, publicRoots: true },
        { address: "b:6514", protocol: "tls" },
      ],
    }),
    "x.json",
  );
  assert.deepEqual(
    ok.collectors.map((c) => c.protocol === "tls" ? c.publicRoots : undefined),
    [true, false],
  );
});

Deno.test("TLS config: serverName other than the address's host cannot go with a client certificate", () => {
  const tls = { protocol: "tls", cert: "/c.pem", key: "/k.pem" };
  assert.throws(
    () =>
      parseConfig(
        JSON.stringify({ collectors: [{ address: "10.0.0.5:6514", serverName: "logs", ...tls }] }),
        "x.json",
      ),
    (e: unknown) =>
      e instanceof ConfigError &&
      /collectors\[0\]\.serverName: cannot be combined with a client certificate/.test(
        e.problems.join("\n"),
      ),
  );
  const ok = parseConfig(
    JSON.stringify({ collectors: [{ address: "logs:6514", serverName: "logs", ...tls }] }),
    "x.json",
  );
  const c = ok.collectors[0];
  assert.ok(c?.protocol === "tls");
  assert.equal(c.serverName, "logs");
});
