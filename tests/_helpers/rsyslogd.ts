/**
 * Real rsyslogd processes for end-to-end tests: a collector config and a
 * start/stop wrapper that never touches the host's own rsyslogd.
 *
 * @module
 */

import { tcpReady } from "./tcp_ready.ts";
import { waitFor } from "./wait_for.ts";

/** The rsyslogd binary used by the tests (Debian's path). */
const RSYSLOGD = "/usr/sbin/rsyslogd";

/** A running rsyslogd started by {@link startRsyslogd}. */
export interface RsyslogdProcess {
  /** Process id of rsyslogd itself. */
  readonly pid: number;
  /** Directory holding its config, log and work files. */
  readonly dir: string;
  /** Path of the config file it was started with. */
  readonly confPath: string;
  /** Sends a signal; ignored once the process has exited. */
  signal(sig: Deno.Signal): void;
  /** SIGTERM, up to 5 s grace, then SIGKILL; resolves once it has exited. Idempotent. */
  stop(): Promise<void>;
  /** Resolves when the process has exited. */
  readonly status: Promise<Deno.CommandStatus>;
}

/** Options for {@link startRsyslogd}. */
export interface StartRsyslogdOptions {
  /** Complete rsyslog config text (RainerScript). */
  conf: string;
  /** Directory for `<name>.conf` and `<name>.log`; created if missing. */
  dir: string;
  /** When given, wait (10 s) until 127.0.0.1:readyPort accepts a TCP connection. */
  readyPort?: number | undefined;
  /** Base name of the config and log files (default "rsyslog"). */
  name?: string | undefined;
}

/**
 * Writes `conf` to `<dir>/<name>.conf`, validates it with `rsyslogd -N1`
 * (throwing with rsyslogd's output when invalid), then runs
 * `rsyslogd -n -iNONE -f CONF` with stdout and stderr appended to
 * `<dir>/<name>.log`. With `readyPort`, resolves only once rsyslogd itself
 * listens on 127.0.0.1:readyPort; if it exits or the 10 s deadline passes
 * first, the process is killed and the error carries the log.
 */
export async function startRsyslogd(opts: StartRsyslogdOptions): Promise<RsyslogdProcess> {
  const name = opts.name ?? "rsyslog";
  await Deno.mkdir(opts.dir, { recursive: true });
  const confPath = `${opts.dir}/${name}.conf`;
  const logPath = `${opts.dir}/${name}.log`;
  await Deno.writeTextFile(confPath, opts.conf);

  const check = await new Deno.Command(RSYSLOGD, {
    args: ["-N1", "-f", confPath],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!check.success) {
    const text = new TextDecoder().decode(check.stdout) + new TextDecoder().decode(check.stderr);
    throw new Error(`rsyslogd rejected ${confPath} (exit ${check.code}):\n${text.trim()}`);
  }

  // The shell opens the log file and then becomes rsyslogd (exec), so the
  // child's pid is rsyslogd's and its output lands in the file even if this
  // test process dies; no pipe has to be pumped.
  const child = new Deno.Command("/bin/sh", {
    args: [
      "-c",
      'log=$1; shift; exec "$@" >>"$log" 2>&1',
      "sh",
      logPath,
      RSYSLOGD,
      "-n",
      "-iNONE",
      "-f",
      confPath,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();

  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });

  const signal = (sig: Deno.Signal): void => {
    if (exited) return;
    try {
      child.kill(sig);
    } catch (err) {
      if (!exited) throw err;
    }
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!exited) {
        signal("SIGTERM");
        if (!(await exitsWithin(status, 5_000))) signal("SIGKILL");
      }
      await status;
    })();
    return stopping;
  };

  const proc: RsyslogdProcess = {
    pid: child.pid,
    dir: opts.dir,
    confPath,
    signal,
    stop,
    status,
  };

  const readyPort = opts.readyPort;
  if (readyPort !== undefined) {
    let outcome: "ready" | "exited" | undefined;
    let failure: unknown;
    try {
      outcome = await waitFor(
        async () => exited ? "exited" : (await tcpReady(readyPort, child.pid)) && "ready",
        { timeoutMs: 10_000, what: `rsyslogd to listen on 127.0.0.1:${readyPort}`, intervalMs: 10 },
      );
    } catch (err) {
      failure = err;
    }
    if (outcome !== "ready") {
      // stop it if it still runs, so a failed start leaks no process
      await proc.stop();
      const s = await status;
      const why = failure instanceof Error
        ? failure.message
        : `rsyslogd exited (code ${s.code}, signal ${s.signal})`;
      const log = await readOrEmpty(logPath);
      throw new Error(
        `rsyslogd (${confPath}) did not become ready: ${why}\n--- ${logPath}:\n${log}`,
      );
    }
  }
  return proc;
}

/** Options for {@link collectorConf}. */
export interface CollectorConfOptions {
  /** TCP port on 127.0.0.1 to listen on. */
  port: number;
  /** rsyslog work directory (must exist). */
  dir: string;
  /** File that receives every message, one per line. */
  file: string;
}

/**
 * A complete rsyslog config for a test collector: one imtcp listener on
 * 127.0.0.1:`port` (octet-counted and LF framing both accepted) that writes
 * every message it receives to `file` exactly as sent, followed by `\n`.
 *
 * - `%rawmsg%` is the received message without its octet-count prefix or
 *   framing LF, with escaping of control characters on receive switched off,
 *   so tabs, `#` and UTF-8 arrive byte for byte. (rsyslog still turns a NUL
 *   byte inside a message into the 4 characters `#000`, and drops NULs at the
 *   end.)
 * - Messages up to 256 KiB are neither truncated (`maxMessageSize`) nor, when
 *   octet-counted, rejected as over-long frames (imtcp `maxFrameSize`, 200000
 *   by default). Longer LF-framed lines are split into 256 KiB pieces.
 * - The file is written synchronously and flushed at the end of every batch
 *   (`asyncWriting="off"`, `flushOnTXEnd="on"`), so a message is on disk a
 *   few milliseconds after it arrived.
 * - No other input (no imuxsock, no imklog, nothing on /dev/log) and no other
 *   output: the listener is bound to its own ruleset, so rsyslogd's internal
 *   messages go to its stderr (the `<name>.log` of {@link startRsyslogd}),
 *   never into `file` and never to /var/log.
 */
export function collectorConf(opts: CollectorConfOptions): string {
  if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) {
    throw new RangeError(`collectorConf: port must be 1..65535, got ${opts.port}`);
  }
  const dir = rainerString(opts.dir);
  const file = rainerString(opts.file);
  return `# test collector written by tests/_helpers/rsyslogd.ts
global(
  workDirectory=${dir}
  maxMessageSize="256k"
  parser.escapeControlCharactersOnReceive="off"
  net.enableDNS="off"
)
module(load="imtcp" maxFrameSize="262144" maxSessions="1000")
template(name="collector_raw" type="string" string="%rawmsg%\\n")
ruleset(name="collector") {
  action(type="omfile" file=${file} template="collector_raw"
         asyncWriting="off" flushOnTXEnd="on")
}
input(type="imtcp" address="127.0.0.1" port="${opts.port}" ruleset="collector")
`;
}

/** A RainerScript double-quoted string literal. */
function rainerString(value: string): string {
  if (/[\n\r\0]/.test(value)) {
    throw new RangeError(
      `collectorConf: path contains a line break or NUL: ${JSON.stringify(value)}`,
    );
  }
  return `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/** Resolves true if `status` settles within `ms`, false otherwise; leaves no timer behind. */
async function exitsWithin(status: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([status.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The file's text, or "" if it cannot be read. */
async function readOrEmpty(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}
