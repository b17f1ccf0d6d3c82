/**
 * The agent's configuration, after parsing: every key present, defaults filled
 * in, sizes in bytes, durations in milliseconds. See `parseConfig` for how a
 * JSON file becomes a {@linkcode Config}, and `../shared/SPEC.md` for the keys.
 *
 * @module
 */

/**
 * A `host:port` of the config, parsed: what inputs listen on, collectors and
 * probes connect to and the metrics endpoint serves on.
 */
export interface Address {
  /** The host without brackets: a name, an IPv4 or an IPv6 address. */
  hostname: string;
  /** From 1 to 65535. */
  port: number;
  /** As written in the config (`"[::1]:514"`): what messages, status and metrics show. */
  text: string;
}

/** What every input has, whatever its type. */
export interface InputSettings {
  /** Longer messages are truncated to this many bytes and counted (default 64 KiB). */
  maxMessageSize: number;
  /** Connections beyond this are closed at once and counted (default 1024). */
  maxConnections: number;
  /** A connection that sends nothing for this long is closed (default 300000 ms). */
  idleTimeoutMs: number;
}

/** An input listening on a network address. */
export interface AddressInputConfig extends InputSettings {
  /** `tcp` (octet-counted and LF framing), `udp` or `relp`. */
  type: "tcp" | "udp" | "relp";
  /** Where it listens. */
  address: Address;
}

/** An input listening on a unix stream socket. */
export interface UnixInputConfig extends InputSettings {
  /** A unix stream socket, mode 0666 (like `/dev/log`). */
  type: "unix";
  /** The socket's path. */
  path: string;
}

/** One listening input: on an address (`tcp`, `udp`, `relp`) or a socket path (`unix`). */
export type InputConfig = AddressInputConfig | UnixInputConfig;

/**
 * Where the members of a collector group come from. `address`: one collector
 * (a name is resolved by the system at each connect, its addresses tried in
 * turn). `addresses`: a pool whose members share the traffic, one per entry,
 * and a name among them stands for every address it resolves to. `srv`: a
 * pool of the targets of a DNS SRV name, priority and weight honoured. Names
 * are resolved again at each reconnect and every `resolveIntervalMs`.
 */
export type CollectorMembers =
  | { kind: "address" }
  | { kind: "addresses"; addresses: Address[]; resolveIntervalMs: number }
  | { kind: "srv"; name: string; resolveIntervalMs: number };

/** What every collector has, whatever its protocol. */
export interface CollectorSettings {
  /**
   * Where the collector listens; for a pool, its name in status and messages
   * (`addresses` joined by ",", or `srv:NAME`) and the host TLS checks when
   * no `serverName` is set.
   */
  address: Address;
  /** One collector, or a pool (see {@linkcode CollectorMembers}). */
  members: CollectorMembers;
  /**
   * Bytes of recently written data resent after an unclean disconnect (tcp and
   * tls; relp, acknowledged, has no use for it).
   */
  replayWindow: number;
  /** A connect that has not completed after this long fails (default 5000 ms). */
  connectTimeoutMs: number;
  /** A write that has not drained after this long marks the collector stalled (default 5000 ms). */
  writeTimeoutMs: number;
}

/** Framing on the wire of a tcp or tls collector: RFC 6587 octet counting, or LF. */
export type Framing = "octet-counted" | "lf";

/** A collector speaking plain syslog over TCP. */
export interface TcpCollectorConfig extends CollectorSettings {
  /** Plain TCP. */
  protocol: "tcp";
  /** Framing on the wire. */
  framing: Framing;
}

/** A collector speaking syslog over TLS (RFC 5425). */
export interface TlsCollectorConfig extends CollectorSettings {
  /** TLS. */
  protocol: "tls";
  /** Framing on the wire. */
  framing: Framing;
  /**
   * CA file, the only trust anchor of the collector's certificate unless
   * `publicRoots`; absent: Deno's public roots.
   */
  ca?: string;
  /** With `ca`, trust the public roots too (default false). */
  publicRoots: boolean;
  /** Client certificate file; present exactly when `key` is. */
  cert?: string;
  /** Client key file; present exactly when `cert` is. */
  key?: string;
  /** The name expected in the collector's certificate; absent: the address's host. */
  serverName?: string;
}

/** A collector speaking RELP: every message acknowledged. */
export interface RelpCollectorConfig extends CollectorSettings {
  /** RELP (librelp's `doc/relp.md`). */
  protocol: "relp";
}

/** A collector that has no acknowledgements: tcp or tls, with a framing and a replay window. */
export type StreamCollectorConfig = TcpCollectorConfig | TlsCollectorConfig;

/** One collector the relay forwards to; `protocol` tells which. */
export type CollectorConfig = TcpCollectorConfig | TlsCollectorConfig | RelpCollectorConfig;

/** The durable on-disk queue. */
export interface SpoolConfig {
  /** Directory of segment files and the checkpoint. */
  dir: string;
  /** `fallback`: spool only when the collector is down or behind; `always`: write ahead. */
  mode: "fallback" | "always";
  /** The spool's files never exceed this many bytes. */
  maxBytes: number;
  /** What to drop when the spool is full. */
  whenFull: "drop-oldest" | "drop-newest";
  /** When appended records are made durable with fdatasync. */
  sync: "always" | "interval" | "never";
  /** Interval of `sync: "interval"`. */
  syncIntervalMs: number;
  /**
   * Messages a second the forwarder sends at most while it catches up (a
   * backlog, a resend): `"auto"`, twice the agent's own inflow (at least 100;
   * 10,000 in the agent's first 10 s); a number; or `0`, unpaced.
   */
  maxDrainRate: "auto" | number;
  /**
   * Messages that reached the spool longer ago than this (ms) are dropped from
   * its head before they are sent, and counted as expired; 0: kept however old.
   */
  maxAge: number;
}

/**
 * Where the canaries go into rsyslogd (`rsyslogd.probe.target`): a unix
 * datagram socket (`unix://PATH`), a UDP or TCP address (`udp://HOST:PORT`,
 * `tcp://HOST:PORT`), or nowhere (`none`: the process is checked only).
 */
export type ProbeTarget =
  | { kind: "none" }
  | { kind: "unix"; path: string }
  | { kind: "udp" | "tcp"; address: Address };

/** The canary probe that proves rsyslogd is processing messages. */
export interface ProbeConfig {
  /** Where canaries are sent. */
  target: ProbeTarget;
  /** Time between two canaries (default 5000 ms). */
  intervalMs: number;
  /** A canary not seen back on an input after this long is a miss (default 2000 ms). */
  timeoutMs: number;
  /** Misses in a row after which rsyslogd is taken as hung and restarted (default 3). */
  failures: number;
}

/** How the agent supervises rsyslogd. */
export interface RsyslogdConfig {
  /** `off`: unsupervised; `child`: run `command` as a child; `external`: watch `pidFile`. */
  mode: "off" | "child" | "external";
  /** argv of rsyslogd in the foreground, for `child` mode. */
  command: string[];
  /** File holding the pid of rsyslogd started by someone else, for `external` mode. */
  pidFile: string;
  /** argv run to restart rsyslogd in `external` mode (e.g. `systemctl restart rsyslog`). */
  restartCommand: string[];
  /** The canary that proves rsyslogd processes messages, not just runs. */
  probe: ProbeConfig;
}

/** The control socket and metrics endpoint. */
export interface ControlConfig {
  /** Path of the unix control socket. */
  socket: string;
  /** Group allowed to use the control socket. */
  group: string;
  /** Where the Prometheus endpoint listens; absent when off (`"metrics": ""` in the file). */
  metrics?: Address;
}

/** The agent's own log. */
export interface LogConfig {
  /** Least severe level written; lower ones are dropped. */
  level: "debug" | "info" | "warn" | "error";
  /** `text`: one human-readable line per entry; `json`: one JSON object per line. */
  format: "text" | "json";
}

/** The whole configuration. */
export interface Config {
  /** Sockets the agent listens on for syslog messages. */
  inputs: InputConfig[];
  /** Collectors in order of preference: the first healthy one gets the traffic. */
  collectors: CollectorConfig[];
  /** The on-disk queue for what the collectors cannot take yet. */
  spool: SpoolConfig;
  /** Whether and how the agent supervises rsyslogd. */
  rsyslogd: RsyslogdConfig;
  /** The control socket and the metrics endpoint. */
  control: ControlConfig;
  /** The agent's own log. */
  log: LogConfig;
}
