import assert from "node:assert/strict";
import type { Address, Config } from "./config.ts";
import { ConfigError } from "./config_error.ts";
import { devConfig } from "./dev_config.ts";
import { parseConfig } from "./parse_config.ts";
import { loadConfig } from "./load_config.ts";
import { probeTargetText } from "./probe_target.ts";

/** The problems `parseConfig` reports for `json` (a value or raw text). */
function problems(json: unknown): readonly string[] {
  const text = typeof json === "string" ? json : JSON.stringify(json);
  try {
    parseConfig(text, "/etc/syslog-agent/agent.json");
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail(`expected problems for ${text}`);
}

/** The parsed form of `text`. */
function addr(text: string, hostname: string, port: number): Address {
  return { hostname, port, text };
}

const DEFAULT_INPUT = {
  maxMessageSize: 65536,
  maxConnections: 1024,
  idleTimeoutMs: 300000,
};
const DEFAULT_COLLECTOR = {
  members: { kind: "address" },
  protocol: "tcp",
  framing: "octet-counted",
  replayWindow: 2 * 1024 * 1024,
  connectTimeoutMs: 5000,
  writeTimeoutMs: 5000,
};

/** The defaults of SPEC.md's Config section, plus the extra keys. */
const DEFAULTS: Config = {
  inputs: [
    { type: "tcp", address: addr("127.0.0.1:5514", "127.0.0.1", 5514), ...DEFAULT_INPUT },
    { type: "udp", address: addr("127.0.0.1:5514", "127.0.0.1", 5514), ...DEFAULT_INPUT },
  ],
  collectors: [
    {
      address: addr("127.0.0.1:514", "127.0.0.1", 514),
      ...DEFAULT_COLLECTOR,
    } as Config["collectors"][0],
  ],
  spool: {
    dir: "/var/spool/syslog-agent",
    mode: "fallback",
    maxBytes: 1024 ** 3,
    whenFull: "drop-oldest",
    sync: "interval",
    syncIntervalMs: 200,
    maxDrainRate: "auto",
    maxAge: 0,
  },
  rsyslogd: {
    mode: "off",
    command: ["/usr/sbin/rsyslogd", "-n", "-iNONE", "-f", "/etc/rsyslog.conf"],
    pidFile: "/run/rsyslogd.pid",
    restartCommand: ["systemctl", "restart", "rsyslog"],
    probe: {
      target: { kind: "unix", path: "/dev/log" },
      intervalMs: 5000,
      timeoutMs: 2000,
      failures: 3,
    },
  },
  control: {
    socket: "/run/syslog-agent/agent.sock",
    group: "adm",
    metrics: addr("127.0.0.1:9514", "127.0.0.1", 9514),
  },
  log: { level: "info", format: "text" },
};

Deno.test("an empty config gets every default of the spec", () => {
  assert.deepEqual(parseConfig("{}", "x.json"), DEFAULTS);
});

Deno.test("the spec's example config parses to the defaults", () => {
  const spec = {
    inputs: [
      { type: "tcp", address: "127.0.0.1:5514" },
      { type: "udp", address: "127.0.0.1:5514" },
    ],
    collectors: [
      { address: "127.0.0.1:514", protocol: "tcp", framing: "octet-counted", replayWindow: "2MiB" },
    ],
    spool: {
      dir: "/var/spool/syslog-agent",
      mode: "fallback",
      maxBytes: "1GiB",
      whenFull: "drop-oldest",
      sync: "interval",
      syncIntervalMs: 200,
    },
    rsyslogd: {
      mode: "off",
      command: ["/usr/sbin/rsyslogd", "-n", "-iNONE", "-f", "/etc/rsyslog.conf"],
      pidFile: "/run/rsyslogd.pid",
      restartCommand: ["systemctl", "restart", "rsyslog"],
      probe: { target: "unix:///dev/log", intervalMs: 5000, timeoutMs: 2000, failures: 3 },
    },
    control: { socket: "/run/syslog-agent/agent.sock", group: "adm", metrics: "127.0.0.1:9514" },
    log: { level: "info", format: "text" },
  };
  assert.deepEqual(parseConfig(JSON.stringify(spec), "x.json"), DEFAULTS);
});

Deno.test("given values are kept and sizes become bytes", () => {
  const config = parseConfig(
    JSON.stringify({
      inputs: [{ type: "unix", path: "/run/a.sock", maxMessageSize: "1MiB" }, {
        type: "relp",
        address: "[::1]:2514",
        maxConnections: 5,
        idleTimeoutMs: 10,
      }],
      collectors: [
        { address: "a:6514", protocol: "tls", ca: "/ca.pem", cert: "/c.pem", key: "/k.pem" },
        { address: "b:2514", protocol: "relp", replayWindow: 0 },
      ],
      spool: { mode: "always", maxBytes: 65536, whenFull: "drop-newest", sync: "never" },
      rsyslogd: { mode: "external", probe: { target: "udp://127.0.0.1:514" } },
      control: { metrics: "" },
      log: { level: "debug", format: "json" },
    }),
    "x.json",
  );
  assert.deepEqual(config.inputs[0], {
    ...DEFAULT_INPUT,
    type: "unix",
    path: "/run/a.sock",
    maxMessageSize: 1024 * 1024,
  });
  assert.deepEqual(config.inputs[1], {
    ...DEFAULT_INPUT,
    type: "relp",
    address: addr("[::1]:2514", "::1", 2514),
    maxConnections: 5,
    idleTimeoutMs: 10,
  });
  assert.deepEqual(config.collectors[0], {
    ...DEFAULT_COLLECTOR,
    address: addr("a:6514", "a", 6514),
    protocol: "tls",
    ca: "/ca.pem",
    publicRoots: false,
    cert: "/c.pem",
    key: "/k.pem",
  });
  assert.equal(config.collectors[1]?.replayWindow, 0);
  assert.equal(config.spool.maxBytes, 65536);
  assert.deepEqual(config.rsyslogd.probe.target, {
    kind: "udp",
    address: addr("127.0.0.1:514", "127.0.0.1", 514),
  });
  assert.equal(config.control.metrics, undefined);
  assert.ok(!("metrics" in config.control), '"metrics": "" leaves no metrics key');
  assert.deepEqual(config.log, { level: "debug", format: "json" });
});

Deno.test("an unknown key is one exact line, at any level", () => {
  assert.deepEqual(
    problems({ inputs: [{ type: "tcp", address: "a:1" }, { type: "udp", adress: "a:1" }] }),
    [
      'config: inputs[1]: unknown key "adress" (known: type, address, path, maxMessageSize, maxConnections, idleTimeoutMs)',
      'config: inputs[1].address: missing, expected "host:port" (required for type "udp")',
    ],
  );
  assert.deepEqual(problems({ spol: {} }), [
    'config: unknown key "spol" (known: inputs, collectors, spool, rsyslogd, control, log)',
  ]);
  assert.deepEqual(problems({ rsyslogd: { probe: { every: 1 } } }), [
    'config: rsyslogd.probe: unknown key "every" (known: target, intervalMs, timeoutMs, failures)',
  ]);
});

Deno.test("a wrong type is one exact line", () => {
  assert.deepEqual(problems({ log: 7 }), ["config: log: expected an object, got 7"]);
  assert.deepEqual(problems({ spool: { syncIntervalMs: "200" } }), [
    'config: spool.syncIntervalMs: expected a duration in milliseconds (an integer from 1 to 2147483647), got "200"',
  ]);
  assert.deepEqual(problems({ inputs: { type: "tcp" } }), [
    'config: inputs: expected an array of objects, got {"type":"tcp"}',
  ]);
  assert.deepEqual(problems([]), ["config: expected a JSON object at the top level, got []"]);
  assert.deepEqual(problems({ rsyslogd: { command: "rsyslogd -n" } }), [
    'config: rsyslogd.command: expected a non-empty array of strings (program first), like ["/usr/bin/x", "-n"], got "rsyslogd -n"',
  ]);
});

Deno.test("a bad address is one exact line", () => {
  assert.deepEqual(problems({ collectors: [{ address: "logs" }] }), [
    'config: collectors[0].address: expected "host:port", got "logs"',
  ]);
  assert.deepEqual(problems({ collectors: [{ address: "logs:0" }] }), [
    'config: collectors[0].address: expected "host:port" with a port from 1 to 65535, got "logs:0"',
  ]);
  assert.deepEqual(problems({ control: { metrics: 9514 } }), [
    'config: control.metrics: expected "host:port" or "" (off), got 9514',
  ]);
  assert.deepEqual(problems({ rsyslogd: { probe: { target: "/dev/log" } } }), [
    'config: rsyslogd.probe.target: expected "unix://PATH", "udp://HOST:PORT", "tcp://HOST:PORT" or "none", got "/dev/log"',
  ]);
});

Deno.test("a bad size is one exact line", () => {
  assert.deepEqual(problems({ spool: { maxBytes: "1GB" } }), [
    'config: spool.maxBytes: expected a size: a whole number of bytes, or a string like "64MiB" (units B, KiB, MiB, GiB, TiB; 1000-based KB, MB, GB are not accepted), got "1GB"',
  ]);
  assert.deepEqual(problems({ spool: { maxBytes: "1KiB" } }), [
    'config: spool.maxBytes: expected a size of at least 64KiB, got "1KiB"',
  ]);
  assert.deepEqual(
    problems({ inputs: [{ type: "tcp", address: "a:1", maxMessageSize: "32MiB" }] }),
    [
      'config: inputs[0].maxMessageSize: expected a size from 64B to 16MiB, got "32MiB"',
    ],
  );
});

Deno.test("a bad enum is one exact line", () => {
  assert.deepEqual(problems({ spool: { mode: "sometimes" } }), [
    'config: spool.mode: expected one of "fallback", "always", got "sometimes"',
  ]);
  assert.deepEqual(problems({ collectors: [{ address: "a:1", protocol: "udp", ca: "/x" }] }), [
    'config: collectors[0].protocol: expected one of "tcp", "tls", "relp", got "udp"',
  ]);
});

Deno.test("a JSON syntax error is one line naming the file and position", () => {
  assert.deepEqual(problems('{\n  "log": {},\n  "spool" {}\n}'), [
    "config: /etc/syslog-agent/agent.json: invalid JSON at line 3 column 11: Expected ':' after property name",
  ]);
  assert.deepEqual(problems('{\n  "inputs": [\n    {"type": "tcp"}}\n  ]\n}'), [
    "config: /etc/syslog-agent/agent.json: invalid JSON at line 3 column 20: Expected ',' or ']' after array element",
  ]);
  assert.deepEqual(problems(" \n"), [
    "config: /etc/syslog-agent/agent.json: invalid JSON: the file is empty (write {} to use every default)",
  ]);
});

Deno.test("a missing or forbidden key is one exact line", () => {
  assert.deepEqual(problems({ inputs: [{ address: "a:1" }] }), [
    'config: inputs[0].type: missing, expected one of "tcp", "udp", "unix", "relp"',
  ]);
  assert.deepEqual(problems({ inputs: [{ type: "unix", address: "a:1" }] }), [
    'config: inputs[0].address: not allowed with type "unix" (it listens on "path"), got "a:1" (remove it)',
    "config: inputs[0].path: missing, expected a socket path",
  ]);
  assert.deepEqual(problems({ inputs: [{ type: "tcp", address: "a:1", path: "/x" }] }), [
    'config: inputs[0].path: not allowed with type "tcp" (only with "unix"), got "/x" (remove it)',
  ]);
  assert.deepEqual(problems({ collectors: [{ protocol: "tcp", serverName: "x" }] }), [
    'config: collectors[0].address: missing, expected "host:port" (one collector), or "addresses": ["host:port", …] (a pool) or "srv": "_syslog._tcp.example.com" (a pool from DNS SRV)',
    'config: collectors[0].serverName: not allowed with protocol "tcp" (only with "tls"), got "x" (remove it)',
  ]);
  assert.deepEqual(problems({ collectors: [{ address: "a:1", protocol: "tls", cert: "/c" }] }), [
    'config: collectors[0].key: missing, expected a file path because "cert" is set',
  ]);
  assert.deepEqual(problems({ collectors: [] }), [
    "config: collectors: expected at least one collector, got []",
  ]);
});

Deno.test("every problem is reported, not just the first", () => {
  assert.deepEqual(
    problems({
      collectors: [{ address: "logs" }],
      spool: { mode: "sometimes", maxBytes: -1 },
      rsyslogd: { probe: { failures: 0 } },
      log: { level: "trace" },
    }),
    [
      'config: collectors[0].address: expected "host:port", got "logs"',
      'config: spool.mode: expected one of "fallback", "always", got "sometimes"',
      'config: spool.maxBytes: expected a size: a whole number of bytes, or a string like "64MiB" (units B, KiB, MiB, GiB, TiB; 1000-based KB, MB, GB are not accepted), got -1',
      "config: rsyslogd.probe.failures: expected an integer of at least 1, got 0",
      'config: log.level: expected one of "debug", "info", "warn", "error", got "trace"',
    ],
  );
});

Deno.test("devConfig runs without root under the state directory", () => {
  const config = devConfig("/tmp/state");
  assert.deepEqual(
    config.inputs.map((i) => [i.type, i.type === "unix" ? i.path : i.address.text]),
    [
      ["tcp", "127.0.0.1:5514"],
      ["udp", "127.0.0.1:5514"],
    ],
  );
  assert.deepEqual(config.collectors.map((c) => c.address.text), ["127.0.0.1:10514"]);
  assert.equal(config.spool.dir, "/tmp/state/spool");
  assert.equal(config.control.socket, "/tmp/state/agent.sock");
  assert.equal(config.control.metrics?.text, "127.0.0.1:9514");
  assert.equal(config.rsyslogd.mode, "off");
  assert.deepEqual(config.log, DEFAULTS.log);
});

Deno.test("control.socket without a directory part is an error, not a stray directory", () => {
  assert.deepEqual(problems({ control: { socket: "agent.sock" } }), [
    'config: control.socket: expected a socket path with a directory, like "/run/syslog-agent/agent.sock", got "agent.sock"',
  ]);
  const ok = parseConfig(JSON.stringify({ control: { socket: "./agent.sock" } }), "x.json");
  assert.equal(ok.control.socket, "./agent.sock");
});

Deno.test("a unix input has a path and no address; the others an address and no path", () => {
  const config = parseConfig(
    JSON.stringify({
      inputs: [
        { type: "unix", path: "/run/syslog-agent/in.sock" },
        { type: "tcp", address: "[::1]:5514" },
      ],
    }),
    "x.json",
  );
  const [unix, tcp] = config.inputs;
  assert.ok(unix?.type === "unix");
  assert.equal(unix.path, "/run/syslog-agent/in.sock");
  assert.ok(!("address" in unix));
  assert.ok(tcp?.type === "tcp");
  assert.deepEqual(tcp.address, addr("[::1]:5514", "::1", 5514));
  assert.ok(!("path" in tcp));
});

Deno.test("a tls collector has its TLS keys, a tcp or relp one has none", () => {
  const config = parseConfig(
    JSON.stringify({
      collectors: [
        {
          address: "logs:6514",
          protocol: "tls",
          ca: "/ca.pem",
          publicRoots: true,
          serverName: "logs",
          cert: "/c.pem",
          key: "/k.pem",
          framing: "lf",
        },
        { address: "b:6514", protocol: "tls", ca: "" },
        { address: "c:514", framing: "lf" },
        { address: "d:2514", protocol: "relp", framing: "lf" },
      ],
    }),
    "x.json",
  );
  const [full, bare, tcp, relp] = config.collectors;
  assert.deepEqual(full, {
    ...DEFAULT_COLLECTOR,
    protocol: "tls",
    address: addr("logs:6514", "logs", 6514),
    framing: "lf",
    ca: "/ca.pem",
    publicRoots: true,
    serverName: "logs",
    cert: "/c.pem",
    key: "/k.pem",
  });
  // Optional TLS keys absent (or "" in the file) are absent, not "".
  assert.deepEqual(bare, {
    ...DEFAULT_COLLECTOR,
    protocol: "tls",
    address: addr("b:6514", "b", 6514),
    publicRoots: false,
  });
  assert.deepEqual(tcp, { ...DEFAULT_COLLECTOR, address: addr("c:514", "c", 514), framing: "lf" });
  for (const c of [tcp, relp]) {
    for (const key of ["ca", "cert", "key", "serverName", "publicRoots"]) {
      assert.ok(c !== undefined && !(key in c), `${c?.protocol} collector has no ${key}`);
    }
  }
  // RELP has its own framing: a "framing" in the file is accepted, and not kept.
  assert.ok(relp?.protocol === "relp");
  assert.ok(!("framing" in relp));
});

Deno.test("probe targets parse to their kind, and print as written", () => {
  const target = (text: string) =>
    parseConfig(JSON.stringify({ rsyslogd: { probe: { target: text } } }), "x.json").rsyslogd
      .probe.target;
  assert.deepEqual(target("none"), { kind: "none" });
  assert.deepEqual(target("unix:///run/rsyslog/probe.sock"), {
    kind: "unix",
    path: "/run/rsyslog/probe.sock",
  });
  assert.deepEqual(target("udp://127.0.0.1:514"), {
    kind: "udp",
    address: addr("127.0.0.1:514", "127.0.0.1", 514),
  });
  assert.deepEqual(target("tcp://[::1]:10514"), {
    kind: "tcp",
    address: addr("[::1]:10514", "::1", 10514),
  });
  for (const text of ["none", "unix:///dev/log", "udp://127.0.0.1:514", "tcp://[::1]:10514"]) {
    assert.equal(probeTargetText(target(text)), text);
  }
});

Deno.test("a bad probe target or metrics address names the key, the value and the form to use", () => {
  assert.deepEqual(problems({ rsyslogd: { probe: { target: "tcp://logs" } } }), [
    'config: rsyslogd.probe.target: expected "tcp://HOST:PORT" with a port from 1 to 65535, got "tcp://logs"',
  ]);
  assert.deepEqual(problems({ rsyslogd: { probe: { target: "udp://127.0.0.1:0" } } }), [
    'config: rsyslogd.probe.target: expected "udp://HOST:PORT" with a port from 1 to 65535, got "udp://127.0.0.1:0"',
  ]);
  assert.deepEqual(problems({ rsyslogd: { probe: { target: "unix://" } } }), [
    'config: rsyslogd.probe.target: expected "unix://PATH", "udp://HOST:PORT", "tcp://HOST:PORT" or "none", got "unix://"',
  ]);
  assert.deepEqual(problems({ control: { metrics: "9514" } }), [
    'config: control.metrics: expected "host:port", got "9514"',
  ]);
});

Deno.test("TLS rules read the parsed keys: one trust store, serverName with a client certificate", () => {
  assert.deepEqual(
    problems({
      collectors: [
        { address: "a:6514", protocol: "tls", ca: "/ca.pem" },
        { address: "b:6514", protocol: "tls" },
      ],
    }),
    [
      'config: collectors[1]: trusts the public roots (no "ca", or "publicRoots": true) but collectors[0] trusts only its ca, and the agent has one TLS root store for all of them; give every tls collector a "ca" and no "publicRoots", or set "publicRoots": true where a "ca" is set',
    ],
  );
  assert.deepEqual(
    problems({
      collectors: [{
        address: "10.0.0.5:6514",
        protocol: "tls",
        serverName: "logs",
        cert: "/c.pem",
        key: "/k.pem",
      }],
    }),
    [
      `config: collectors[0].serverName: cannot be combined with a client certificate (cert/key): the certificate is checked against the address's host; put "logs" in address instead, got "logs"`,
    ],
  );
  // The same name as the address's host is no conflict; "" means no serverName.
  parseConfig(
    JSON.stringify({
      collectors: [
        { address: "logs:6514", protocol: "tls", serverName: "logs", cert: "/c", key: "/k" },
        { address: "10.0.0.5:6514", protocol: "tls", serverName: "", cert: "/c", key: "/k" },
      ],
    }),
    "x.json",
  );
});

Deno.test("a pool: addresses or an SRV name, resolved again at an interval; one address is a group of one", () => {
  const config = parseConfig(
    JSON.stringify({
      collectors: [
        { addresses: ["10.0.0.5:514", "logs.example.com:514"], protocol: "relp" },
        { srv: "_syslog._tcp.example.com.", resolveIntervalMs: 5000 },
        { address: "backup:514" },
      ],
    }),
    "x.json",
  );
  const [pool, srv, one] = config.collectors;
  assert.deepEqual(pool?.members, {
    kind: "addresses",
    addresses: [
      addr("10.0.0.5:514", "10.0.0.5", 514),
      addr("logs.example.com:514", "logs.example.com", 514),
    ],
    resolveIntervalMs: 30_000,
  });
  assert.equal(pool?.address.text, "10.0.0.5:514,logs.example.com:514");
  assert.deepEqual(srv?.members, {
    kind: "srv",
    name: "_syslog._tcp.example.com",
    resolveIntervalMs: 5000,
  });
  assert.equal(srv?.address.text, "srv:_syslog._tcp.example.com");
  assert.deepEqual(one?.members, { kind: "address" });
});

Deno.test("a bad pool or SRV name is explained", () => {
  assert.deepEqual(problems({ collectors: [{ address: "a:1", addresses: ["b:1"] }] }), [
    'config: collectors[0]: "address" and "addresses" cannot be combined: give one collector ("address") or one pool ("addresses" or "srv") per entry; a pool that fails over to another is a second entry',
  ]);
  assert.deepEqual(problems({ collectors: [{ addresses: [] }] }), [
    'config: collectors[0].addresses: expected a non-empty array of "host:port" strings, like ["10.0.0.5:514", "logs.example.com:514"], got []',
  ]);
  assert.deepEqual(problems({ collectors: [{ addresses: ["a:1", "b"] }] }), [
    'config: collectors[0].addresses: entry 1: expected "host:port", got "b"',
  ]);
  assert.deepEqual(problems({ collectors: [{ addresses: ["a:1", "a:1"] }] }), [
    'config: collectors[0].addresses: entry 1: "a:1" is listed twice; list each member once',
  ]);
  assert.deepEqual(problems({ collectors: [{ srv: "logs.example.com" }] }), [
    'config: collectors[0].srv: expected an SRV name "_service._proto.domain" (RFC 2782), like "_syslog._tcp.example.com", got "logs.example.com"',
  ]);
  assert.deepEqual(problems({ collectors: [{ address: "a:1", resolveIntervalMs: 5 }] }), [
    'config: collectors[0].resolveIntervalMs: only with "addresses" or "srv" (a pool), got 5 (remove it)',
  ]);
});

Deno.test("a config with comments and trailing commas, as deno.json accepts; a syntax error still names its line and column", () => {
  const text = `// The collectors of this site.
{
  /* a pool of two, "//" in a string is kept */
  "collectors": [
    { "addresses": ["10.0.0.5:514", "10.0.0.6:514"], }, // trailing comma
  ],
  "log": { "level": "debug", "format": "text" /* not json */ },
}
`;
  const config = parseConfig(text, "agent.json");
  assert.equal(config.collectors[0]?.address.text, "10.0.0.5:514,10.0.0.6:514");
  assert.equal(config.log.level, "debug");
  assert.equal(
    parseConfig('{"log": {"level": "info"}, "spool": {"dir": "/a//b"}}', "x").spool.dir,
    "/a//b",
  );
  assert.deepEqual(problems(`{\n  // a comment\n  "log": { "level": "info" ]\n}\n`), [
    "config: /etc/syslog-agent/agent.json: invalid JSON at line 3 column 28: Expected ',' or '}' after property value",
  ]);
  assert.deepEqual(problems(`{\n  "log": {} /* never closed\n}\n`), [
    "config: /etc/syslog-agent/agent.json: invalid JSON at line 2 column 13: a /* comment that is never closed",
  ]);
});

Deno.test("loadConfig reads a commented config whose rsyslogd is off (no commands to vet)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/agent.json`;
    await Deno.writeTextFile(
      path,
      '// the installer\'s comments\n{ "log": { "level": "info" }, }\n',
    );
    const config = await loadConfig(path);
    assert.equal(config.rsyslogd.mode, "off");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
