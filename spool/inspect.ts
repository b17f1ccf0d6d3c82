/**
 * Looking into a spool directory without changing it: what `agent spool
 * stat|cat|verify` show, for a stopped agent's directory or, with the running
 * agent's view of its segments (how far each is written), a live one.
 *
 * @module
 */

import { eachFrame, errorText, type SpoolPosition } from "../ground/mod.ts";
import { formatOf, headerBytes, recordBytes, type RecordFormat, scanRecords } from "./_record.ts";

/** A segment file as the inspection sees it. */
export interface SegmentView {
  /** Its number (the file name's). */
  id: number;
  /** Its file name. */
  name: string;
  /** Bytes to look at: the file's size, or what the running agent has written of it. */
  size: number;
  /** Where its undelivered records begin (the checkpoint's offset in its segment, else 0). */
  start: number;
}

/** A spool directory as the inspection sees it. */
export interface SpoolView {
  /** The directory. */
  dir: string;
  /** The acknowledged position (`checkpoint.json`), if there is one. */
  checkpoint: SpoolPosition | undefined;
  /** The segment files, oldest first. */
  segments: SegmentView[];
  /** Files that are none of the spool's own (segments, checkpoint, dead letters). */
  stray: string[];
}

/** One message found by {@linkcode scanSpool}. */
export interface FoundMessage {
  /** Its segment's id. */
  segment: number;
  /** Where its record starts in the segment. */
  offset: number;
  /** When its record reached the spool (ms), or for format 1 its segment's last write. */
  arrival: number;
  /** Not yet delivered (at or after the checkpoint). */
  undelivered: boolean;
  /** The message, byte for byte. */
  message: Uint8Array;
}

/** Damage {@linkcode scanSpool} found. */
export interface Damage {
  /** The segment file. */
  name: string;
  /** What: a record whose checksum fails, a record cut short at the end, or an unreadable file. */
  kind: "corrupt" | "torn" | "unreadable";
  /** Where (byte offset), or the error for an unreadable file. */
  at: number | string;
}

/** What {@linkcode scanSpool} counted. */
export interface SpoolScan {
  /** Messages not yet delivered, and their bytes. */
  messages: number;
  bytes: number;
  /** Arrival (ms) of the oldest and the newest undelivered message; 0 when none. */
  oldest: number;
  newest: number;
  /** Damaged regions, cut-short tails and unreadable files. */
  damage: Damage[];
}

const SEGMENT = /^(\d{16})\.seg$/;
const OWN = new Set([
  "checkpoint.json",
  "checkpoint.json.tmp",
  "dead-letter.log",
  "dead-letter.log.1",
]);

/**
 * The view of the spool in `dir`, read only: the checkpoint, the segment files
 * and their sizes, and stray files. `live` is a running agent's word (see
 * `Spool.live`): its acknowledged position, and how far each segment is
 * written (what is being written is not looked at, so nothing races the
 * writer; a segment it no longer has is left out).
 */
export async function viewSpool(
  dir: string,
  live?: { checkpoint: SpoolPosition; written: [number, number][] },
): Promise<SpoolView> {
  let checkpoint: SpoolPosition | undefined = live?.checkpoint.segment === -1
    ? undefined
    : live?.checkpoint;
  if (live === undefined) {
    try {
      const cp = JSON.parse(await Deno.readTextFile(`${dir}/checkpoint.json`));
      if (Number.isSafeInteger(cp?.segment) && Number.isSafeInteger(cp?.offset)) checkpoint = cp;
    } catch {
      // None yet, or unreadable: everything counts as undelivered.
    }
  }
  const written = live === undefined ? undefined : new Map(live.written);
  const segments: SegmentView[] = [];
  const stray: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const m = SEGMENT.exec(e.name);
    if (m === null || !e.isFile) {
      if (!OWN.has(e.name)) stray.push(e.name);
      continue;
    }
    const id = Number(m[1]);
    if (written !== undefined && !written.has(id)) continue; // being deleted
    const size = written?.get(id) ?? (await Deno.stat(`${dir}/${e.name}`)).size;
    const start = checkpoint !== undefined && id === checkpoint.segment
      ? Math.min(checkpoint.offset, size)
      : 0;
    // Before the checkpoint's segment: delivered, except segments a stop wrote (also before
    // it, undelivered in full); the agent deletes delivered ones, so what is left is undelivered.
    segments.push({ id, name: e.name, size, start });
  }
  segments.sort((a, b) => a.id - b.id);
  stray.sort();
  return { dir, checkpoint, segments, stray };
}

/**
 * Reads every record of `view`'s segments (read only, every checksum checked),
 * calling `visit` with each message, and counts the undelivered ones and the
 * damage. `all`: visit delivered messages too (what the checkpoint says was
 * sent but is still in a segment).
 */
export async function scanSpool(
  view: SpoolView,
  visit?: (m: FoundMessage) => void,
  all = false,
): Promise<SpoolScan> {
  const out: SpoolScan = { messages: 0, bytes: 0, oldest: 0, newest: 0, damage: [] };
  for (const seg of view.segments) {
    const path = `${view.dir}/${seg.name}`;
    let data: Uint8Array;
    let mtime = 0;
    try {
      const file = await Deno.readFile(path);
      data = file.subarray(0, Math.min(file.length, seg.size));
      mtime = (await Deno.stat(path)).mtime?.getTime() ?? 0;
    } catch (e) {
      out.damage.push({
        name: seg.name,
        kind: "unreadable",
        at: errorText(e),
      });
      continue;
    }
    const format = formatOf(data);
    const view2 = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let lastGood = 0;
    const res = scanRecords(format, data, view2, 0, data.length, true, (s, e, _n, arrival) => {
      const recordStart = s - headerBytes(format);
      lastGood = e;
      const undelivered = recordStart >= seg.start;
      const at = arrival === 0 ? mtime : arrival;
      const each = (ms: number, me: number) => {
        if (undelivered) {
          out.messages++;
          out.bytes += me - ms;
          out.oldest = out.oldest === 0 ? at : Math.min(out.oldest, at);
          out.newest = Math.max(out.newest, at);
        }
        if (visit !== undefined && (undelivered || all)) {
          visit({
            segment: seg.id,
            offset: recordStart,
            arrival: at,
            undelivered,
            message: data.subarray(ms, me),
          });
        }
      };
      if (format === 1) each(s, e);
      else eachFrame(data, s, e, each);
    });
    if (res.corrupt > 0) damageOf(format, data, view2, seg.name, lastGood, out.damage);
  }
  return out;
}

/** Where the damage of a segment is: damaged regions, and a record cut short at its end. */
function damageOf(
  format: RecordFormat,
  data: Uint8Array,
  view: DataView,
  name: string,
  lastGood: number,
  damage: Damage[],
): void {
  // Walk again to place each damaged region: a good record's end that is not where the
  // next good one starts is the start of a damaged region.
  let expect = 0;
  scanRecords(format, data, view, 0, data.length, true, (s, e) => {
    const recordStart = s - headerBytes(format);
    if (recordStart !== expect) damage.push({ name, kind: "corrupt", at: expect });
    expect = e;
  });
  if (expect < data.length) {
    const cutShort = expect === lastGood &&
      expect + recordBytes(format, view, expect) > data.length;
    damage.push({ name, kind: cutShort ? "torn" : "corrupt", at: expect });
  }
}
