/**
 * Real rsyslogd processes for tests, benchmarks and the demo: a start/stop
 * wrapper that checks the config first and never touches the host's own
 * rsyslogd.
 *
 * @module
 */

import { readOrEmpty, spawnLogged } from "./process.ts";
import { tcpReady } from "./tcp_ready.ts";
import { waitFor } from "./wait_for.ts";

/** The rsyslogd binary used by default (Debian's path). */
const RSYSLOGD = "/usr/sbin/rsyslogd";

/**
 * What `rsyslogd -N1` (check the config, start nothing) says of `confPath`:
 * `undefined` when it takes it, else its exit code and its output, trimmed.
 */
export async function rsyslogdRejects(
  rsyslogd: string,
  confPath: string,
): Promise<{ code: number; output: string } | undefined> {
  const out = await new Deno.Command(rsyslogd, {
    args: ["-N1", "-f", confPath],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.success) return undefined;
  const decoder = new TextDecoder();
  return {
    code: out.code,
    output: (decoder.decode(out.stdout) + decoder.decode(out.stderr)).trim(),
  };
}

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
  /** The rsyslogd binary (default /usr/sbin/rsyslogd). */
  rsyslogd?: string | undefined;
  /** Run it in a session of its own (see `spawnLogged`). */
  setsid?: boolean | undefined;
}

/**
 * Writes `conf` to `<dir>/<name>.conf`, validates it with `rsyslogd -N1`
 * (throwing with rsyslogd's output when invalid), then runs
 * `rsyslogd -n -iNONE -f CONF` with stdout and stderr appended to
 * `<dir>/<name>.log`. With `readyPort`, resolves only once rsyslogd itself
 * listens on 127.0.0.1:readyPort; if it exits or the 10 s deadline passes
 * first, the process is killed and the error carries the log.
 *
 * @example
 * ```ts ignore
 * import { collectorConf } from "./rsyslog_conf.ts";
 * import { startRsyslogd } from "./rsyslogd.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const conf = collectorConf({ port: 10514, dir, file: `${dir}/received.log` });
 * const proc = await startRsyslogd({ conf, dir, readyPort: 10514 });
 * await proc.stop();
 * ```
 */
export async function startRsyslogd(opts: StartRsyslogdOptions): Promise<RsyslogdProcess> {
  const name = opts.name ?? "rsyslog";
  const rsyslogd = opts.rsyslogd ?? RSYSLOGD;
  await Deno.mkdir(opts.dir, { recursive: true });
  const confPath = `${opts.dir}/${name}.conf`;
  const logPath = `${opts.dir}/${name}.log`;
  await Deno.writeTextFile(confPath, opts.conf);

  const rejected = await rsyslogdRejects(rsyslogd, confPath);
  if (rejected !== undefined) {
    throw new Error(`rsyslogd rejected ${confPath} (exit ${rejected.code}):\n${rejected.output}`);
  }

  const child = spawnLogged({
    cmd: rsyslogd,
    args: ["-n", "-iNONE", "-f", confPath],
    logPath,
    setsid: opts.setsid,
  });
  const proc: RsyslogdProcess = {
    pid: child.pid,
    dir: opts.dir,
    confPath,
    signal: child.signal,
    stop: async () => {
      await child.stop(5_000);
    },
    status: child.status,
  };

  const readyPort = opts.readyPort;
  if (readyPort !== undefined) {
    let outcome: "ready" | "exited" | undefined;
    let failure: unknown;
    try {
      outcome = await waitFor(
        async () => child.exited() ? "exited" : (await tcpReady(readyPort, child.pid)) && "ready",
        { timeoutMs: 10_000, what: `rsyslogd to listen on 127.0.0.1:${readyPort}`, intervalMs: 10 },
      );
    } catch (err) {
      failure = err;
    }
    if (outcome !== "ready") {
      // stop it if it still runs, so a failed start leaks no process
      await proc.stop();
      const s = await child.status;
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
