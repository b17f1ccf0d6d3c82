/**
 * The agent's own log: leveled lines on stderr.
 *
 * @module
 */

/** Log levels, least severe first. */
export type Level = "debug" | "info" | "warn" | "error";

const RANK: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };
/** syslog priorities that journald reads from a `<N>` prefix (sd-daemon(3)). */
const PRIORITY: Record<Level, number> = { debug: 7, info: 6, warn: 4, error: 3 };

/** Options of {@linkcode Logger}. */
export interface LoggerOptions {
  /** Least severe level written; lines below it are dropped. */
  level: Level;
  /** `text`: `TIME LEVEL MSG` lines; `json`: one `{time, level, msg}` object per line. */
  format: "text" | "json";
  /** Prefix lines with `<N>` priorities for journald; default: {@linkcode stderrIsJournal}. */
  journal?: boolean;
  /** Where lines go; default stderr. */
  write?: (line: string) => void;
}

const encoder = new TextEncoder();

/**
 * Whether stderr goes to journald: `JOURNAL_STREAM` is set (systemd sets it
 * for a unit's stdout/stderr streams) and stderr is not a terminal.
 */
export function stderrIsJournal(): boolean {
  return (Deno.env.get("JOURNAL_STREAM") ?? "") !== "" && !Deno.stderr.isTerminal();
}

/**
 * `msg` as a line that says it is an error: under journald with the `<3>`
 * prefix, which journald turns into priority err (without it, a unit's stderr
 * is stored at info, and `journalctl -p err` misses the line); elsewhere as is.
 * For what the command line writes to stderr before it exits with an error.
 */
export function errorLine(msg: string, journal: boolean = stderrIsJournal()): string {
  return journal ? `<${PRIORITY.error}>${msg}` : msg;
}

/**
 * A small leveled logger. Text lines read `2026-11-25T10:00:00.000Z warn relay: …`;
 * under journald the timestamp is left to journald and the line starts with the
 * priority (`<4>relay: …`) so that levels survive.
 *
 * @example
 * ```ts
 * const log = new Logger({ level: "info", format: "text" });
 * log.warn("relay: collector 127.0.0.1:514 down");
 * ```
 */
export class Logger {
  #rank = RANK.info;
  #format: "text" | "json" = "text";
  #journal = false;
  #write: (line: string) => void = (line) => Deno.stderr.writeSync(encoder.encode(line + "\n"));

  /** A logger with `opts` applied, as {@linkcode Logger.configure} would. */
  constructor(opts: LoggerOptions) {
    this.configure(opts);
  }

  /** Changes level, format and (when given) the destination, as on a config reload. */
  configure(opts: LoggerOptions): void {
    this.#rank = RANK[opts.level];
    this.#format = opts.format;
    this.#journal = opts.journal ?? stderrIsJournal();
    this.#write = opts.write ?? this.#write;
  }

  /** Detail for debugging. */
  debug(msg: string): void {
    this.#log("debug", msg);
  }

  /** Normal events. */
  info(msg: string): void {
    this.#log("info", msg);
  }

  /** Something is wrong but handled. */
  warn(msg: string): void {
    this.#log("warn", msg);
  }

  /** Something failed. */
  error(msg: string): void {
    this.#log("error", msg);
  }

  #log(level: Level, msg: string): void {
    if (RANK[level] < this.#rank) return;
    if (this.#format === "json") {
      this.#write(JSON.stringify({ time: new Date().toISOString(), level, msg }));
    } else if (this.#journal) {
      this.#write(`<${PRIORITY[level]}>${msg}`);
    } else {
      this.#write(`${new Date().toISOString()} ${level} ${msg}`);
    }
  }
}
