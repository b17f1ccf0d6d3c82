/**
 * `agent spool stat|cat|verify`: what is in the spool, how old, whether it is
 * intact; read only, through the running agent's view of its files or from a
 * stopped one's directory.
 *
 * @module
 */

import { controlRequest, type SpoolFiles, UnreachableError } from "../control/mod.ts";
import { scanSpool, type SpoolScan, type SpoolView, viewSpool } from "../spool/mod.ts";
import { errorText } from "../ground/mod.ts";
import { bytes, count, duration } from "./_format.ts";

const decoder = new TextDecoder();

/** Options of {@linkcode spoolCommand}. */
export interface SpoolCommandOptions {
  /** `stat`, `cat` or `verify`. */
  action: "stat" | "cat" | "verify";
  /** The control socket of the agent that may be running. */
  socket: string;
  /** The spool directory (default: the running agent's, else the config's `fallbackDir`). */
  dir?: string;
  /** The directory to read when no agent answers and `dir` is not given. */
  fallbackDir: string;
  /** JSON output. */
  json: boolean;
  /** cat: only the last N messages. */
  tail?: number;
  /** cat: only messages matching this regular expression. */
  grep?: RegExp;
  /** cat: the delivered messages still in the files too. */
  all?: boolean;
  /** cat: the set-aside messages (dead-letter.log) instead. */
  deadLetter?: boolean;
  /** Where output goes (default stdout, a line at a time). */
  out?: (line: string) => void;
}

/**
 * Runs `agent spool ACTION`; returns the exit code: 0, or for `verify` 1 when
 * damage or stray files were found.
 */
export async function spoolCommand(o: SpoolCommandOptions): Promise<number> {
  const out = o.out ?? ((line: string) => console.log(line));
  let live: SpoolFiles | undefined;
  try {
    live = await controlRequest(o.socket, { command: "spool" }, 5_000);
  } catch (e) {
    if (!(e instanceof UnreachableError)) throw e;
  }
  const dir = o.dir ?? live?.dir ?? o.fallbackDir;
  // Through the agent only when it is this spool's agent.
  const through = live !== undefined && live.dir === dir ? live : undefined;
  let view: SpoolView;
  try {
    view = await viewSpool(dir, through);
  } catch (e) {
    throw new Error(
      `spool: cannot read ${dir} (${errorText(e)}); pass --dir DIR`,
    );
  }
  const source = through !== undefined
    ? "running agent: its files as far as written"
    : "no running agent for it: read from the files";
  if (o.action === "cat") return await cat(o, view, out);
  const scan = await scanSpool(view);
  if (o.action === "stat") {
    const dead = await deadLetters(dir);
    if (o.json) {
      out(JSON.stringify({ dir, source, ...summary(view, scan), deadLetters: dead }));
      return 0;
    }
    const s = summary(view, scan);
    out(`spool        ${dir} (${source})`);
    out(`segments     ${s.segments}, ${bytes(s.bytesOnDisk)}`);
    out(
      `messages     ${count(s.messages)} not yet delivered, ${bytes(s.bytes)}` +
        (s.messages === 0
          ? ""
          : `, oldest ${duration(s.oldestAgeSeconds)} ago, newest ${
            duration(s.newestAgeSeconds)
          } ago`),
    );
    out(
      `checkpoint   ${
        view.checkpoint === undefined
          ? "none (nothing delivered yet)"
          : `segment ${view.checkpoint.segment} at ${view.checkpoint.offset}`
      }`,
    );
    out(`dead letters ${count(dead)}${dead === 0 ? "" : " (agent spool cat --dead-letter)"}`);
    out(
      `damage       ${
        scan.damage.length === 0 ? "none" : `${scan.damage.length} (agent spool verify)`
      }${view.stray.length === 0 ? "" : `; stray files: ${view.stray.join(", ")}`}`,
    );
    return 0;
  }
  // verify
  if (o.json) {
    out(JSON.stringify({ dir, source, damage: scan.damage, stray: view.stray }));
  } else {
    for (const d of scan.damage) {
      out(
        d.kind === "unreadable"
          ? `${d.name}: cannot be read: ${d.at}`
          : d.kind === "torn"
          ? `${d.name}: a record cut short at offset ${d.at} (a torn tail: the agent cuts it off at start)`
          : `${d.name}: a damaged record at offset ${d.at} (its checksum fails: skipped and counted as corrupt)`,
      );
    }
    for (const f of view.stray) {
      out(`${f}: a stray file, not the spool's (the agent leaves it alone)`);
    }
    out(
      scan.damage.length + view.stray.length === 0
        ? `spool ${dir}: ${view.segments.length} segment(s), every record's checksum holds`
        : `spool ${dir}: ${scan.damage.length} damaged, ${view.stray.length} stray`,
    );
  }
  return scan.damage.length + view.stray.length === 0 ? 0 : 1;
}

/** The figures of `agent spool stat`. */
function summary(view: SpoolView, scan: SpoolScan) {
  const now = Date.now();
  return {
    segments: view.segments.length,
    bytesOnDisk: view.segments.reduce((t, s) => t + s.size, 0),
    messages: scan.messages,
    bytes: scan.bytes,
    oldestAgeSeconds: scan.oldest === 0 ? 0 : Math.max(0, Math.round((now - scan.oldest) / 1000)),
    newestAgeSeconds: scan.newest === 0 ? 0 : Math.max(0, Math.round((now - scan.newest) / 1000)),
    checkpoint: view.checkpoint ?? null,
    damage: scan.damage.length,
    stray: view.stray,
  };
}

/** `agent spool cat`: the messages, oldest first (or the last N), raw or as JSON lines. */
async function cat(
  o: SpoolCommandOptions,
  view: SpoolView,
  out: (line: string) => void,
): Promise<number> {
  if (o.deadLetter === true) {
    for (const line of await deadLetterLines(view.dir)) {
      // `TIME COLLECTOR "REASON" "MESSAGE"`: the message is the last JSON string.
      const m = /^(\S+) (\S+) ("(?:[^"\\]|\\.)*") ("(?:[^"\\]|\\.)*")$/.exec(line);
      if (m === null) continue;
      const message = JSON.parse(m[4]!) as string;
      if (o.grep !== undefined && !o.grep.test(message)) continue;
      out(
        o.json
          ? JSON.stringify({ at: m[1], collector: m[2], reason: JSON.parse(m[3]!), message })
          : message,
      );
    }
    return 0;
  }
  const keep: string[] = [];
  const tail = o.tail;
  await scanSpool(view, (f) => {
    const text = decoder.decode(f.message);
    if (o.grep !== undefined && !o.grep.test(text)) return;
    const line = o.json
      ? JSON.stringify({
        segment: f.segment,
        offset: f.offset,
        arrival: new Date(f.arrival).toISOString(),
        delivered: !f.undelivered,
        message: text,
      })
      : text;
    if (tail === undefined) out(line);
    else {
      keep.push(line);
      if (keep.length > tail) keep.shift();
    }
  }, o.all === true);
  for (const line of keep) out(line);
  return 0;
}

async function deadLetterLines(dir: string): Promise<string[]> {
  const lines: string[] = [];
  for (const name of ["dead-letter.log.1", "dead-letter.log"]) {
    const text = await Deno.readTextFile(`${dir}/${name}`).catch(() => "");
    lines.push(...text.split("\n").filter((l) => l !== ""));
  }
  return lines;
}

async function deadLetters(dir: string): Promise<number> {
  return (await deadLetterLines(dir)).length;
}
