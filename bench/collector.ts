/**
 * The receiving end of the relay scenario: an rsyslogd collector (the shared
 * test helper's config) writing every message to a file, and a cheap way to
 * tell when that file holds N lines.
 *
 * @module
 */

import { collectorConf, deferCleanup, freePort, sleep, startRsyslogd } from "../testkit/mod.ts";
import { nowMs } from "./load.ts";

/** A running collector. */
export interface Collector {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** Process id of its rsyslogd. */
  readonly pid: number;
  /** The file receiving one line per message. */
  readonly file: string;
  /**
   * Polls the file until it holds `lines` lines or `deadlineAtMs` (epoch ms)
   * passes. All lines of a run have one length, so this reads the first line
   * once and then only watches the size. Returns when the target was seen,
   * or early (undefined) once `giveUp()` says so.
   */
  waitForLines(
    lines: number,
    deadlineAtMs: number,
    giveUp?: () => boolean,
  ): Promise<{ doneAtMs: number | undefined }>;
  /** Counts the LF bytes in the file (a full read; not for timed sections). */
  countLines(): Promise<number>;
  /** Stops rsyslogd. */
  stop(): Promise<void>;
}

/** Starts an rsyslogd collector in `dir` on `port` (default: a free port). */
export async function startCollector(dir: string, atPort?: number): Promise<Collector> {
  await Deno.mkdir(dir, { recursive: true });
  const port = atPort ?? await freePort();
  const file = `${dir}/received.log`;
  const proc = await startRsyslogd({
    conf: collectorConf({ port, dir, file }),
    dir,
    readyPort: port,
    name: "collector",
  });
  const unregister = deferCleanup(() => proc.stop());
  let lineBytes: number | undefined;

  const waitForLines = async (
    lines: number,
    deadlineAtMs: number,
    giveUp?: () => boolean,
  ): Promise<{ doneAtMs: number | undefined }> => {
    while (nowMs() < deadlineAtMs && !(giveUp?.() ?? false)) {
      let size = 0;
      try {
        size = (await Deno.stat(file)).size;
      } catch {
        // not created yet
      }
      if (size > 0 && lineBytes === undefined) lineBytes = await firstLineBytes(file);
      if (lineBytes !== undefined && size >= lines * lineBytes) return { doneAtMs: nowMs() };
      await sleep(5);
    }
    return { doneAtMs: undefined };
  };

  return {
    port,
    pid: proc.pid,
    file,
    waitForLines,
    countLines: () => countLf(file),
    stop: async () => {
      unregister();
      await proc.stop();
    },
  };
}

/** Length in bytes of the file's first line including its LF, once a whole line is there. */
async function firstLineBytes(path: string): Promise<number | undefined> {
  using f = await Deno.open(path);
  const buf = new Uint8Array(256 * 1024);
  const n = await f.read(buf);
  if (n === null) return undefined;
  const lf = buf.subarray(0, n).indexOf(10);
  return lf < 0 ? undefined : lf + 1;
}

/** Number of LF bytes in a file (0 if it does not exist). */
export async function countLf(path: string): Promise<number> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(path);
  } catch {
    return 0;
  }
  using file = f;
  const buf = new Uint8Array(1 << 20);
  let count = 0;
  for (;;) {
    const n = await file.read(buf);
    if (n === null) break;
    const view = buf.subarray(0, n);
    let i = view.indexOf(10);
    while (i >= 0) {
      count++;
      i = view.indexOf(10, i + 1);
    }
  }
  return count;
}
