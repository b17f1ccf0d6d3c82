/**
 * Turns the text of a JSON config file into a {@linkcode Config}: checks every
 * key and fills every default. The defaults live here and nowhere else.
 *
 * @module
 */

import type {
  Address,
  CollectorConfig,
  CollectorMembers,
  CollectorSettings,
  Config,
  ControlConfig,
  InputConfig,
  InputSettings,
  LogConfig,
  ProbeConfig,
  ProbeTarget,
  RsyslogdConfig,
  SpoolConfig,
  TlsCollectorConfig,
} from "./config.ts";
import { parseAddress } from "./address.ts";
import { ConfigError } from "./config_error.ts";
import { parseSize } from "./size.ts";
import { jsonProblem } from "./_json_problem.ts";
import { stripJsonc } from "./strip_jsonc.ts";
import { type Check, Section } from "./_section.ts";
import { show } from "./_show.ts";

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;
const MAX_TIMER_MS = 2 ** 31 - 1;

const TOP_KEYS = ["inputs", "collectors", "spool", "rsyslogd", "control", "log"];
const INPUT_KEYS = [
  "type",
  "address",
  "path",
  "maxMessageSize",
  "maxConnections",
  "idleTimeoutMs",
];
const COLLECTOR_KEYS = [
  "address",
  "addresses",
  "srv",
  "resolveIntervalMs",
  "protocol",
  "framing",
  "replayWindow",
  "ca",
  "cert",
  "key",
  "serverName",
  "publicRoots",
  "connectTimeoutMs",
  "writeTimeoutMs",
];
const SPOOL_KEYS = [
  "dir",
  "mode",
  "maxBytes",
  "whenFull",
  "sync",
  "syncIntervalMs",
  "maxDrainRate",
  "maxAge",
];
const RSYSLOGD_KEYS = ["mode", "command", "pidFile", "restartCommand", "probe"];
const PROBE_KEYS = ["target", "intervalMs", "timeoutMs", "failures"];
const CONTROL_KEYS = ["socket", "group", "metrics"];
const LOG_KEYS = ["level", "format"];
const TLS_KEYS = ["ca", "cert", "key", "serverName", "publicRoots"];

const INPUT_TYPES = ["tcp", "udp", "unix", "relp"] as const;
const DEFAULT_INPUTS: readonly unknown[] = [
  { type: "tcp", address: "127.0.0.1:5514" },
  { type: "udp", address: "127.0.0.1:5514" },
];
const DEFAULT_COLLECTORS: readonly unknown[] = [{ address: "127.0.0.1:514" }];
const DEFAULT_METRICS = "127.0.0.1:9514";
const DEFAULT_PROBE_TARGET = "unix:///dev/log";
/** Stands in for an address that is missing or invalid: reported, so never returned. */
const NO_ADDRESS: Address = { hostname: "", port: 0, text: "" };

/**
 * Parses and validates the JSON `text` of a config file (`//` and `/* *\/`
 * comments and trailing commas allowed, as in `deno.json`); `source` names the
 * file in a JSON syntax error, which gives its line and column. Unknown keys are errors at every level; absent
 * keys get the defaults of SPEC.md; sizes become bytes.
 *
 * @throws {ConfigError} holding every problem found, one line each, such as
 *   `config: collectors[0].address: expected "host:port", got "logs"`.
 */
export function parseConfig(text: string, source: string): Config {
  let json: unknown;
  // Same length and lines as the file: an error's line and column are the file's.
  let plain = text.replace(/^\uFEFF/, "");
  try {
    plain = stripJsonc(plain);
    json = JSON.parse(plain);
  } catch (error) {
    throw new ConfigError([jsonProblem(plain, source, error)]);
  }
  const problems: string[] = [];
  const root = new Section(json, "", TOP_KEYS, problems);
  const inputs = root.list("inputs", DEFAULT_INPUTS, INPUT_KEYS).map(input);
  const collectors = root.list("collectors", DEFAULT_COLLECTORS, COLLECTOR_KEYS);
  if (Array.isArray(root.raw("collectors")) && collectors.length === 0) {
    root.report("collectors", "expected at least one collector, got []");
  }
  const collectorConfigs = collectors.map(collector);
  oneTrust(collectorConfigs, root);
  const config: Config = {
    inputs,
    collectors: collectorConfigs,
    spool: spool(root.section("spool", SPOOL_KEYS)),
    rsyslogd: rsyslogd(root.section("rsyslogd", RSYSLOGD_KEYS)),
    control: control(root.section("control", CONTROL_KEYS)),
    log: log(root.section("log", LOG_KEYS)),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function input(s: Section): InputConfig {
  const type = s.required("type", oneOfText(INPUT_TYPES), oneOf(INPUT_TYPES));
  if (type === "unix") {
    s.forbid("address", 'not allowed with type "unix" (it listens on "path")');
    const path = s.required("path", "a socket path", text) ?? "";
    return { type, path, ...inputSettings(s) };
  }
  let address = NO_ADDRESS;
  if (type !== undefined) {
    s.forbid("path", `not allowed with type ${show(type)} (only with "unix")`);
    address = s.required("address", `"host:port" (required for type ${show(type)})`, hostPort) ??
      NO_ADDRESS;
  }
  return { type: type ?? "tcp", address, ...inputSettings(s) };
}

function inputSettings(s: Section): InputSettings {
  return {
    maxMessageSize: s.get("maxMessageSize", 64 * KIB, size(64, "64B", 16 * MIB, "16MiB")),
    maxConnections: s.get("maxConnections", 1024, integer(1)),
    idleTimeoutMs: s.get("idleTimeoutMs", 300_000, duration),
  };
}

/**
 * Where a collector entry's members come from: exactly one of `address`,
 * `addresses` and `srv`; for a pool, the address it shows as.
 */
function members(s: Section): { address: Address; members: CollectorMembers } {
  const given = ["address", "addresses", "srv"].filter((k) => s.has(k));
  if (given.length === 0) {
    s.report(
      s.pathOf("address"),
      'missing, expected "host:port" (one collector), or "addresses": ["host:port", …] (a pool) or "srv": "_syslog._tcp.example.com" (a pool from DNS SRV)',
    );
    return { address: NO_ADDRESS, members: { kind: "address" } };
  }
  if (given.length > 1) {
    s.report(
      s.path,
      `${
        given.map((k) => show(k)).join(" and ")
      } cannot be combined: give one collector ("address") or one pool ("addresses" or "srv") per entry; a pool that fails over to another is a second entry`,
    );
  }
  if (!s.has("addresses") && !s.has("srv")) {
    s.forbid("resolveIntervalMs", 'only with "addresses" or "srv" (a pool)');
  }
  const resolveIntervalMs = s.get("resolveIntervalMs", 30_000, duration);
  if (s.has("addresses")) {
    const addresses = s.get("addresses", [], addressList);
    const text = addresses.map((a) => a.text).join(",");
    return {
      address: { ...(addresses[0] ?? NO_ADDRESS), text },
      members: { kind: "addresses", addresses, resolveIntervalMs },
    };
  }
  if (s.has("srv")) {
    const name = s.get("srv", "", srvName);
    return {
      address: { hostname: name, port: 0, text: `srv:${name}` },
      members: { kind: "srv", name, resolveIntervalMs },
    };
  }
  return { address: s.get("address", NO_ADDRESS, hostPort), members: { kind: "address" } };
}

function collector(s: Section): CollectorConfig {
  const protocols = ["tcp", "tls", "relp"] as const;
  const { address, members: from } = members(s);
  const protocol = s.get("protocol", "tcp", oneOf(protocols));
  const protocolValid = !s.has("protocol") || protocols.some((p) => p === s.raw("protocol"));
  if (protocolValid && protocol !== "tls") {
    for (const key of TLS_KEYS) {
      s.forbid(key, `not allowed with protocol ${show(protocol)} (only with "tls")`);
    }
  }
  // The TLS keys are checked whatever the protocol; "" in the file means "not set".
  const cert = s.optional("cert", filePath);
  const key = s.optional("key", filePath);
  if (protocol === "tls" && (cert === undefined) !== (key === undefined)) {
    const [missing, given] = cert === undefined ? ["cert", "key"] : ["key", "cert"];
    s.report(s.pathOf(missing), `missing, expected a file path because "${given}" is set`);
  }
  const serverName = s.optional("serverName", filePath);
  if (
    protocol === "tls" && cert !== undefined && serverName !== undefined &&
    serverName !== address.hostname
  ) {
    s.report(
      s.pathOf("serverName"),
      `cannot be combined with a client certificate (cert/key): the certificate is checked against the address's host; put ${
        show(serverName)
      } in address instead, got ${show(serverName)}`,
    );
  }
  const framing = s.get("framing", "octet-counted", oneOf(["octet-counted", "lf"] as const));
  const replayWindow = s.get("replayWindow", 2 * MIB, parseSize);
  const ca = s.optional("ca", filePath);
  const publicRoots = s.get("publicRoots", false, boolean);
  const settings: CollectorSettings = {
    address,
    members: from,
    replayWindow,
    connectTimeoutMs: s.get("connectTimeoutMs", 5000, duration),
    writeTimeoutMs: s.get("writeTimeoutMs", 5000, duration),
  };
  switch (protocol) {
    case "relp":
      // The file may name a framing here too; RELP has its own, so it is not kept.
      return { protocol, ...settings };
    case "tcp":
      return { protocol, framing, ...settings };
    case "tls":
      return {
        protocol,
        framing,
        ...settings,
        ...(ca === undefined ? {} : { ca }),
        publicRoots,
        ...(cert === undefined ? {} : { cert }),
        ...(key === undefined ? {} : { key }),
        ...(serverName === undefined ? {} : { serverName }),
      };
  }
}

/**
 * Deno has one root store per process, fixed at the first TLS connection: the
 * tls collectors must agree on whether it holds the public roots (no `ca`, or
 * `publicRoots: true`) or none (`ca` alone, the only trust anchor).
 */
function oneTrust(collectors: CollectorConfig[], root: Section): void {
  const what = (c: TlsCollectorConfig) =>
    c.ca !== undefined && !c.publicRoots
      ? "trusts only its ca"
      : 'trusts the public roots (no "ca", or "publicRoots": true)';
  const tls = collectors.flatMap((c, i) => c.protocol === "tls" ? [{ c, i }] : []);
  const first = tls[0];
  if (first === undefined) return;
  for (const { c, i } of tls) {
    if (what(c) === what(first.c)) continue;
    root.report(
      `collectors[${i}]`,
      `${what(c)} but collectors[${first.i}] ${
        what(first.c)
      }, and the agent has one TLS root store for all of them; give every tls collector a "ca" and no "publicRoots", or set "publicRoots": true where a "ca" is set`,
    );
    return;
  }
}

function spool(s: Section): SpoolConfig {
  return {
    dir: s.get("dir", "/var/spool/syslog-agent", text),
    mode: s.get("mode", "fallback", oneOf(["fallback", "always"] as const)),
    maxBytes: s.get("maxBytes", GIB, size(64 * KIB, "64KiB")),
    whenFull: s.get("whenFull", "drop-oldest", oneOf(["drop-oldest", "drop-newest"] as const)),
    sync: s.get("sync", "interval", oneOf(["always", "interval", "never"] as const)),
    syncIntervalMs: s.get("syncIntervalMs", 200, duration),
    maxDrainRate: s.get("maxDrainRate", "auto", drainRate),
    maxAge: s.get("maxAge", 0, age),
  };
}

/** An age: milliseconds, or a string like `"7d"`, `"12h"`, `"30m"`, `"90s"`; 0 or `"off"`: none. */
function age(value: unknown): number {
  const form = 'an age like "7d", "12h", "30m" or "90s", milliseconds, or "off"';
  if (value === "off" || value === 0) return 0;
  if (typeof value === "number" && Number.isSafeInteger(value) && value > 0) return value;
  const m = typeof value === "string" ? /^(\d+)\s*(s|m|h|d)$/.exec(value.trim()) : null;
  if (m === null) throw expected(form, value);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s" | "m" | "h" | "d"];
  const ms = Number(m[1]) * unit;
  if (ms <= 0 || !Number.isSafeInteger(ms)) throw expected(form, value);
  return ms;
}

/** `"auto"`, or messages a second (`0`: unpaced). */
function drainRate(value: unknown): "auto" | number {
  if (value === "auto") return value;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw expected('"auto" or messages a second (an integer; 0 turns pacing off)', value);
  }
  return value;
}

function rsyslogd(s: Section): RsyslogdConfig {
  return {
    mode: s.get("mode", "off", oneOf(["off", "child", "external"] as const)),
    command: s.get(
      "command",
      ["/usr/sbin/rsyslogd", "-n", "-iNONE", "-f", "/etc/rsyslog.conf"],
      argv,
    ),
    pidFile: s.get("pidFile", "/run/rsyslogd.pid", text),
    restartCommand: s.get("restartCommand", ["systemctl", "restart", "rsyslog"], argv),
    probe: probe(s.section("probe", PROBE_KEYS)),
  };
}

function probe(s: Section): ProbeConfig {
  return {
    target: s.get("target", probeTarget(DEFAULT_PROBE_TARGET), probeTarget),
    intervalMs: s.get("intervalMs", 5000, duration),
    timeoutMs: s.get("timeoutMs", 2000, duration),
    failures: s.get("failures", 3, integer(1)),
  };
}

function control(s: Section): ControlConfig {
  const socket = s.get("socket", "/run/syslog-agent/agent.sock", socketPath);
  const group = s.get("group", "adm", text);
  const address = s.get("metrics", hostPort(DEFAULT_METRICS), metrics);
  return { socket, group, ...(address === "off" ? {} : { metrics: address }) };
}

function log(s: Section): LogConfig {
  return {
    level: s.get("level", "info", oneOf(["debug", "info", "warn", "error"] as const)),
    format: s.get("format", "text", oneOf(["text", "json"] as const)),
  };
}

// Checks: each returns the typed value or throws `expected <what>, got <value>`.

function expected(what: string, value: unknown): Error {
  return new Error(`expected ${what}, got ${show(value)}`);
}

function oneOfText(values: readonly string[]): string {
  return `one of ${values.map((v) => show(v)).join(", ")}`;
}

function oneOf<T extends string>(values: readonly T[]): Check<T> {
  return (value) => {
    const found = values.find((v) => v === value);
    if (found === undefined) throw expected(oneOfText(values), value);
    return found;
  };
}

function string(value: unknown): string {
  if (typeof value !== "string") throw expected("a string", value);
  return value;
}

function boolean(value: unknown): boolean {
  if (typeof value !== "boolean") throw expected("true or false", value);
  return value;
}

function text(value: unknown): string {
  if (typeof value !== "string" || value === "") throw expected("a non-empty string", value);
  return value;
}

function socketPath(value: unknown): string {
  if (typeof value !== "string" || !value.includes("/")) {
    throw expected('a socket path with a directory, like "/run/syslog-agent/agent.sock"', value);
  }
  return value;
}

/** A file path, or `undefined` for `""` (what the file says for "not set"). */
function filePath(value: unknown): string | undefined {
  return string(value) === "" ? undefined : string(value);
}

function hostPort(value: unknown): Address {
  if (typeof value !== "string") throw expected('"host:port"', value);
  return { ...parseAddress(value), text: value };
}

/** The members of a pool: `"host:port"` strings, at least one, none twice. */
function addressList(value: unknown): Address[] {
  const form =
    'a non-empty array of "host:port" strings, like ["10.0.0.5:514", "logs.example.com:514"]';
  if (!Array.isArray(value) || value.length === 0) throw expected(form, value);
  const out: Address[] = [];
  for (const [i, v] of value.entries()) {
    let a: Address;
    try {
      a = hostPort(v);
    } catch (e) {
      throw new Error(`entry ${i}: ${e instanceof Error ? e.message : e}`);
    }
    if (out.some((b) => b.hostname === a.hostname && b.port === a.port)) {
      throw new Error(`entry ${i}: ${show(v)} is listed twice; list each member once`);
    }
    out.push(a);
  }
  return out;
}

/** A DNS SRV name: `_service._proto.domain` (RFC 2782). */
function srvName(value: unknown): string {
  if (
    typeof value !== "string" ||
    !/^_[A-Za-z0-9-]+\._(tcp|udp)\.[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?$/.test(value)
  ) {
    throw expected(
      'an SRV name "_service._proto.domain" (RFC 2782), like "_syslog._tcp.example.com"',
      value,
    );
  }
  return value.replace(/\.$/, "");
}

/** The metrics address, or `"off"` for `""`. */
function metrics(value: unknown): Address | "off" {
  if (value === "") return "off";
  if (typeof value !== "string") throw expected('"host:port" or "" (off)', value);
  return hostPort(value);
}

function probeTarget(value: unknown): ProbeTarget {
  const forms = '"unix://PATH", "udp://HOST:PORT", "tcp://HOST:PORT" or "none"';
  if (typeof value !== "string") throw expected(forms, value);
  if (value === "none") return { kind: "none" };
  const match = /^(unix|udp|tcp):\/\/(.+)$/.exec(value);
  const kind = match?.[1];
  const rest = match?.[2];
  if (kind === undefined || rest === undefined) throw expected(forms, value);
  if (kind === "unix") return { kind, path: rest };
  try {
    return { kind: kind === "udp" ? "udp" : "tcp", address: hostPort(rest) };
  } catch {
    throw expected(`"${kind}://HOST:PORT" with a port from 1 to 65535`, value);
  }
}

function argv(value: unknown): string[] {
  if (
    !Array.isArray(value) || value.length === 0 ||
    !value.every((v): v is string => typeof v === "string") || value[0] === ""
  ) {
    throw expected(
      'a non-empty array of strings (program first), like ["/usr/bin/x", "-n"]',
      value,
    );
  }
  return [...value];
}

function integer(min: number): Check<number> {
  return (value) => {
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
      throw expected(`an integer of at least ${min}`, value);
    }
    return value;
  };
}

function duration(value: unknown): number {
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_TIMER_MS
  ) {
    throw expected(`a duration in milliseconds (an integer from 1 to ${MAX_TIMER_MS})`, value);
  }
  return value;
}

function size(min: number, minText: string, max?: number, maxText?: string): Check<number> {
  return (value) => {
    const bytes = parseSize(value);
    if (max !== undefined && (bytes < min || bytes > max)) {
      throw expected(`a size from ${minText} to ${maxText}`, value);
    }
    if (bytes < min) throw expected(`a size of at least ${minText}`, value);
    return bytes;
  };
}
