/**
 * `agent tap`: a live copy of the messages passing through.
 *
 * @module
 */

import { type TapLine, type TapRequest, UnreachableError } from "../control/mod.ts";
import { closeQuietly } from "../ground/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Bytes of output waiting for a slow terminal beyond which messages are skipped here too. */
const OUT_MAX = 1024 * 1024;

/** Options of {@linkcode tapCommand}. */
export interface TapOptions {
  /** The control socket. */
  socket: string;
  /** What to tap (input, collector, match, regex, limit). */
  request: Omit<TapRequest, "command">;
  /** Print each message as a JSON line (arrival time, input or collector, size, message). */
  json: boolean;
  /** Ctrl-C: ends the tap. */
  signal: AbortSignal;
  /** Where messages go (default stdout). */
  out?: (text: string) => Promise<void>;
  /** Where the closing note goes (default stderr). */
  note?: (text: string) => void;
}

/**
 * Runs a tap: prints what the agent streams until the limit, Ctrl-C or the
 * agent's end; then, when some were skipped, how many ("tap: 12 messages
 * skipped, the terminal was slower than the relay"). Returns the exit code:
 * 0, or 1 when the agent refused the tap (its reason on stderr).
 *
 * @throws {UnreachableError} when the agent cannot be reached
 */
export async function tapCommand(o: TapOptions): Promise<number> {
  const out = o.out ?? (async (text) => {
    const data = encoder.encode(text);
    let off = 0;
    while (off < data.length) off += await Deno.stdout.write(data.subarray(off));
  });
  const note = o.note ?? ((text) => console.error(text));
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: o.socket });
  } catch (e) {
    throw new UnreachableError(o.socket, e);
  }
  const stop = () => {
    closeQuietly(conn);
  };
  // Ctrl-C: stop printing and end our side; the agent answers with its `end` line (what
  // it skipped), read within a second.
  let ending = false;
  let cut: ReturnType<typeof setTimeout> | undefined;
  const end = () => {
    ending = true;
    conn.closeWrite().catch(stop);
    cut = setTimeout(stop, 1000);
  };
  o.signal.addEventListener("abort", end, { once: true });
  // The socket is read on while the terminal takes its time: output waits here (up to
  // OUT_MAX; beyond, messages are skipped and counted), so the agent's buffer is not the
  // only one, and Ctrl-C is answered at once.
  let pending: string[] = [];
  let pendingBytes = 0;
  let localSkipped = 0;
  let writing: Promise<void> | undefined;
  const emit = (text: string) => {
    if (pendingBytes + text.length > OUT_MAX) {
      localSkipped++;
      return;
    }
    pending.push(text);
    pendingBytes += text.length;
    writing ??= (async () => {
      while (pending.length > 0 && !ending) {
        const chunk = pending.join("");
        pending = [];
        pendingBytes = 0;
        await out(chunk);
      }
    })().finally(() => writing = undefined);
  };
  let skipped = 0;
  let opened = false;
  try {
    await conn.write(encoder.encode(JSON.stringify({ command: "tap", ...o.request }) + "\n"));
    const buf = new Uint8Array(256 * 1024);
    let text = "";
    for (;;) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch {
        break; // closed after Ctrl-C
      }
      if (n === null) break;
      text += decoder.decode(buf.subarray(0, n), { stream: true });
      let nl: number;
      while ((nl = text.indexOf("\n")) >= 0) {
        const line = JSON.parse(text.slice(0, nl));
        text = text.slice(nl + 1);
        if (!opened) {
          if (!line.ok) {
            note(`agent: ${line.error}`);
            return 1;
          }
          opened = true;
          note("tap: open; Ctrl-C to stop");
          continue;
        }
        const l = line as TapLine;
        if ("message" in l) {
          if (!ending) emit(o.json ? JSON.stringify(l) + "\n" : l.message + "\n");
        } else skipped = l.skipped; // a count skipped, or the end (with the count)
      }
    }
    // The limit or the agent's end: what waits for the terminal is written.
    while (writing !== undefined && !ending) await writing;
  } finally {
    o.signal.removeEventListener("abort", end);
    clearTimeout(cut);
    stop();
  }
  if (skipped + localSkipped > 0) {
    note(
      `tap: ${skipped + localSkipped} message(s) skipped, the terminal was slower than the relay`,
    );
  }
  return 0;
}
