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
  /** `host:port` of the Prometheus endpoint, `""` for none. */
  metrics: string;
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
