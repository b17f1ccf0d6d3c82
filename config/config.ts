/**
 * The agent's configuration, after parsing: every key present, defaults filled
 * in, sizes in bytes, durations in milliseconds. See `parseConfig` for how a
 * JSON file becomes a {@linkcode Config}, and `../shared/SPEC.md` for the keys.
 *
 * @module
 */

/** One listening input. */
export interface InputConfig {
  /** `tcp` (octet-counted and LF framing), `udp`, `unix` (stream socket) or `relp`. */
  type: "tcp" | "udp" | "unix" | "relp";
  /** `host:port` for tcp, udp and relp; `""` for unix. */
  address: string;
  /** Socket path for unix; `""` otherwise. */
  path: string;
  /** Longer messages are truncated to this many bytes and counted (default 64 KiB). */
  maxMessageSize: number;
  /** Connections beyond this are closed at once and counted (default 1024). */
  maxConnections: number;
  /** A connection that sends nothing for this long is closed (default 300000 ms). */
  idleTimeoutMs: number;
}

/** One collector the relay forwards to. */
export interface CollectorConfig {
  /** `host:port`. */
  address: string;
  /** `tcp`, `tls` (RFC 5425) or `relp`. */
  protocol: "tcp" | "tls" | "relp";
  /** Framing on the wire for tcp and tls. */
  framing: "octet-counted" | "lf";
  /** Bytes of recently written data resent after an unclean disconnect (tcp/tls). */
  replayWindow: number;
  /**
   * TLS: CA file, the only trust anchor of the collector's certificate unless
   * `publicRoots` (`""`: Deno's public roots).
   */
  ca: string;
  /** TLS: with `ca`, trust the public roots too (the parser always sets it; absent means false). */
  publicRoots?: boolean;
  /** TLS: client certificate file, `""` for none. */
  cert: string;
  /** TLS: client key file, `""` for none. */
  key: string;
  /** TLS: the name expected in the collector's certificate, `""` for the address host. */
  serverName: string;
  /** A connect that has not completed after this long fails (default 5000 ms). */
  connectTimeoutMs: number;
  /** A write that has not drained after this long marks the collector stalled (default 5000 ms). */
  writeTimeoutMs: number;
}

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
}

/** The canary probe that proves rsyslogd is processing messages. */
export interface ProbeConfig {
  /** `unix://PATH`, `udp://HOST:PORT`, `tcp://HOST:PORT` or `none`. */
  target: string;
  intervalMs: number;
  timeoutMs: number;
  failures: number;
}

/** How the agent supervises rsyslogd. */
export interface RsyslogdConfig {
  mode: "off" | "child" | "external";
  command: string[];
  pidFile: string;
  restartCommand: string[];
  probe: ProbeConfig;
}

/** The control socket and metrics endpoint. */
export interface ControlConfig {
  /** Path of the unix control socket. */
  socket: string;
  /** Group allowed to use the control socket. */
  group: string;
  /** `host:port` of the Prometheus endpoint, `""` for none. */
  metrics: string;
}

/** The agent's own log. */
export interface LogConfig {
  level: "debug" | "info" | "warn" | "error";
  format: "text" | "json";
}

/** The whole configuration. */
export interface Config {
  inputs: InputConfig[];
  collectors: CollectorConfig[];
  spool: SpoolConfig;
  rsyslogd: RsyslogdConfig;
  control: ControlConfig;
  log: LogConfig;
}
