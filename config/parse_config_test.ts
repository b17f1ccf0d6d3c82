import assert from "node:assert/strict";
import type { Config } from "./config.ts";
import { ConfigError } from "./config_error.ts";
import { devConfig } from "./dev_config.ts";
import { parseConfig } from "./parse_config.ts";

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

const DEFAULT_INPUT = {
  path: "",
  maxMessageSize: 65536,
  maxConnections: 1024,
  idleTimeoutMs: 300000,
};
const DEFAULT_COLLECTOR = {
  protocol: "tcp",
  framing: "octet-counted",
  replayWindow: 2 * 1024 * 1024,
  ca: "",
  publicRoots: false,
  cert: "",
  key: "",
  serverName: "",
  connectTimeoutMs: 5000,
  writeTimeoutMs: 5000,
};

/** The defaults of SPEC.md's Config section, plus the extra keys. */
const DEFAULTS: Config = {
  inputs: [
    { type: "tcp", address: "127.0.0.1:5514", ...DEFAULT_INPUT },
    { type: "udp", address: "127.0.0.1:5514", ...DEFAULT_INPUT },
  ],
  collectors: [{ address: "127.0.0.1:514", ...DEFAULT_COLLECTOR } as Config["collectors"][0]],
  spool: {
    dir: "/var/spool/syslog-agent",
    mode: "fallback",
    maxBytes: 1024 ** 3,
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
    address: "",
    path: "/run/a.sock",
    maxMessageSize: 1024 * 1024,
  });
  assert.deepEqual(config.inputs[1], {
    ...DEFAULT_INPUT,
    type: "relp",
    address: "[::1]:2514",
    maxConnections: 5,
    idleTimeoutMs: 10,
  });
  assert.deepEqual(config.collectors[0], {
    ...DEFAULT_COLLECTOR,
    address: "a:6514",
    protocol: "tls",
    ca: "/ca.pem",
    cert: "/c.pem",
    key: "/k.pem",
  });
  assert.equal(config.collectors[1]?.replayWindow, 0);
  assert.equal(config.spool.maxBytes, 65536);
  assert.equal(config.rsyslogd.probe.target, "udp://127.0.0.1:514");
  assert.equal(config.control.metrics, "");
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
  assert.deepEqual(problems('{\n  "inputs": [\n    {"type": "tcp"},\n  ]\n}'), [
    "config: /etc/syslog-agent/agent.json: invalid JSON at line 4 column 3: Unexpected token ']'",
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
    'config: collectors[0].address: missing, expected "host:port"',
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
  assert.deepEqual(config.inputs.map((i) => [i.type, i.address]), [
    ["tcp", "127.0.0.1:5514"],
    ["udp", "127.0.0.1:5514"],
  ]);
  assert.deepEqual(config.collectors.map((c) => c.address), ["127.0.0.1:10514"]);
  assert.equal(config.spool.dir, "/tmp/state/spool");
  assert.equal(config.control.socket, "/tmp/state/agent.sock");
  assert.equal(config.control.metrics, "127.0.0.1:9514");
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
