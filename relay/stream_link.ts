/**
 * Plain syslog over a stream (TCP, or TLS per RFC 5425): no acknowledgements,
 * so delivery is confirmed by the replay window.
 *
 * @module
 */

import {
  type Batch,
  type Clock,
  closeQuietly,
  errorText,
  octetToLf,
  Queue,
} from "../ground/mod.ts";
import {
  END_WAIT_MS,
  REPLAY_MAX_BYTES,
  REPLAY_MIN_AGE_MS,
  type StreamCollectorConfig,
} from "../config/mod.ts";
import type { Link, LinkEvents } from "./link.ts";
import type { EvidenceSource, TcpEvidence } from "./tcp_evidence.ts";
import { writeAllWithin } from "./_write_all.ts";

/** A batch written and not yet confirmed, as the link knows it. */
interface Written {
  /** Bytes of the batch (octet-counted, whatever the framing on the wire). */
  size: number;
  /** When it was written (ms). */
  at: number;
  /** Where it ends in the stream of bytes on the wire. */
  end: number;
}

/** TCP_INFO is read at most this often (a write at a host's rates is more frequent). */
const EVIDENCE_EVERY_MS = 50;
/** What a collector's receive buffer holds at most, in largest windows (measured: 1.18). */
const BUFFER_PER_WINDOW = 1.5;
/** Slack on top of it: a window's rounding (scaled), a segment in flight. */
const EVIDENCE_SLACK_BYTES = 16 * 1024;

/** Linux's defaults of `tcp_wmem` and `tcp_rmem` (max), when /proc cannot be read. */
const DEFAULT_KERNEL_BUFFERS = 4 * 1024 * 1024 + 6 * 1024 * 1024;
let kernelBuffers: number | undefined;

/**
 * The most a stalled TCP peer can leave unread: this host's largest send
 * buffer plus its largest receive buffer (`tcp_wmem` and `tcp_rmem` max, taken
 * as the collector's too). Measured on loopback with 4 MiB / 32 MiB: 3.7 MiB
 * unread when the peer never read, 8.5 MiB when it read fast and then stalled.
 */
export function kernelBufferBytes(): number {
  if (kernelBuffers !== undefined) return kernelBuffers;
  try {
    const max = (f: string) =>
      Number(Deno.readTextFileSync(`/proc/sys/net/ipv4/${f}`).trim().split(/\s+/)[2]);
    const sum = max("tcp_wmem") + max("tcp_rmem");
    kernelBuffers = Number.isFinite(sum) && sum > 0 ? sum : DEFAULT_KERNEL_BUFFERS;
  } catch {
    kernelBuffers = DEFAULT_KERNEL_BUFFERS;
  }
  return kernelBuffers;
}

/**
 * The bytes that must follow a batch before it counts as delivered: at least
 * what the kernel's socket buffers can hold unread ({@linkcode kernelBufferBytes}),
 * since a smaller window loses what a stalled collector then crashes with.
 * `replayWindow: 0` turns the window off.
 */
export function effectiveReplayWindow(replayWindow: number): number {
  return replayWindow === 0 ? 0 : Math.max(replayWindow, kernelBufferBytes());
}

/**
 * A {@linkcode Link} that writes batches as octet-counted frames (or LF lines,
 * `framing: "lf"`) over TCP or TLS. The collector never answers, so a batch
 * counts as delivered once the effective window ({@linkcode effectiveReplayWindow}:
 * `replayWindow`, at least the kernel's socket buffers) was written after it
 * and it is {@linkcode REPLAY_MIN_AGE_MS} old: until then the forwarder keeps
 * it, and writes it again after an unclean disconnect (a crash costs
 * duplicates, not gaps). The age matters when the collector reads fast, as
 * while a spool drains: it then holds far more than the window in its queues.
 * A clean end half-closes (FIN, or TLS close_notify) and waits up to
 * {@linkcode END_WAIT_MS} for the collector to close its side: its reading our
 * end shows it read everything, which is then confirmed; otherwise nothing
 * more is. Whatever the collector sends is read and ignored; its closing the
 * connection breaks the link.
 *
 * @example
 * ```ts
 * import { StreamLink } from "./stream_link.ts";
 * import { systemClock } from "../ground/mod.ts";
 * import { parseConfig } from "../config/mod.ts";
 *
 * const config = parseConfig('{"collectors": [{"address": "127.0.0.1:514"}]}', "inline");
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 514 });
 * const collector = config.collectors[0];
 * if (collector?.protocol !== "tcp") throw new Error("expected a tcp collector");
 * const link = new StreamLink(conn, collector, {
 *   confirmed: (count) => console.log(`${count} batch(es) delivered`),
 *   progress: () => {},
 *   broken: (reason) => console.log(`link broken: ${reason}`),
 *   refused: (_batch, _message, reason) => console.log(`refused: ${reason}`),
 * }, systemClock);
 * await link.open();
 * await link.write({ data: new TextEncoder().encode("9 <13>hello"), count: 1 });
 * await link.end();
 * ```
 */
export class StreamLink implements Link {
  #conn: Deno.Conn;
  #cfg: StreamCollectorConfig;
  #events: LinkEvents;
  #clock: Clock;
  /**
   * The batches written and not yet confirmed, oldest first: what decides when
   * each is. The batches themselves are the forwarder's to keep (and to give
   * back); it hears by count which of them are confirmed.
   */
  #written = new Queue<Written>();
  /** Bytes written on the wire so far. */
  #sent = 0;
  #evidence: EvidenceSource | undefined;
  #lastLook = -Infinity;
  #look: TcpEvidence | undefined;
  /** The largest receive window the collector has advertised. */
  #maxWnd = 0;
  /** Bytes of the batches in `#written`. */
  #bytes = 0;
  #window: number;
  #done = false;
  #failure: string | undefined;
  /** Resolves with true when the collector closes its side cleanly, false on an error. */
  #peerEnd: Promise<boolean>;
  /** Set while a clean end waits for the collector: ends that wait unconfirmed. */
  #abandon: (() => void) | undefined;
  /** Made once, not per write: the stall message and the write's callbacks. */
  #stalled: string;
  #onStall = () => this.#fail(this.#stalled);
  #onProgress = () => this.#events.progress();

  /**
   * `evidence`: what the kernel says of the connection (see `tcpEvidence`),
   * when it can tell; without it the byte window alone confirms.
   */
  constructor(
    conn: Deno.Conn,
    cfg: StreamCollectorConfig,
    events: LinkEvents,
    clock: Clock,
    evidence?: EvidenceSource,
  ) {
    this.#conn = conn;
    this.#cfg = cfg;
    this.#events = events;
    this.#clock = clock;
    this.#evidence = evidence;
    this.#window = effectiveReplayWindow(cfg.replayWindow);
    this.#stalled = `writes did not drain within ${cfg.writeTimeoutMs} ms (collector stalled)`;
    this.#peerEnd = this.#watch();
  }

  /** Nothing to negotiate. */
  open(): Promise<void> {
    return this.#failure === undefined
      ? Promise.resolve()
      : Promise.reject(new Error(this.#failure));
  }

  /** {@inheritDoc Link.write} */
  async write(batch: Batch): Promise<void> {
    if (this.#done) throw new Error(this.#failure ?? "link closed");
    const cfg = this.#cfg;
    const data = cfg.framing === "lf" ? octetToLf(batch.data) : batch.data;
    await writeAllWithin(
      this.#conn,
      data,
      this.#clock,
      cfg.writeTimeoutMs,
      this.#stalled,
      this.#onStall,
      this.#onProgress,
    );
    if (this.#done) throw new Error(this.#failure ?? "link closed");
    const now = this.#clock.now();
    this.#sent += data.length;
    this.#written.push({ size: batch.data.length, at: now, end: this.#sent });
    this.#bytes += batch.data.length;
    // A batch is confirmed once the window followed it and it is REPLAY_MIN_AGE_MS old: a
    // collector that reads fast (a spool draining) can hold far more than the window
    // unwritten in its queues. REPLAY_MAX_BYTES bounds the memory that takes. With the
    // kernel's evidence, a batch REPLAY_MIN_AGE_MS old is confirmed sooner: see #read().
    const read = this.#read(now);
    const window = this.#window;
    let confirmed = 0;
    for (let w = this.#written.at(0); w !== undefined; w = this.#written.at(0)) {
      const after = this.#bytes - w.size;
      const old = now - w.at >= REPLAY_MIN_AGE_MS || window === 0;
      const byWindow = after >= window && old;
      const byEvidence = old && w.end <= read;
      if (!(byWindow || byEvidence) && after < Math.max(REPLAY_MAX_BYTES, window)) {
        break;
      }
      this.#bytes -= w.size;
      this.#written.shift();
      confirmed++;
    }
    if (confirmed > 0) this.#events.confirmed(confirmed);
  }

  /**
   * Up to where in the stream the collector's application has read, by the
   * kernel's evidence (-1 when there is none, or it says the collector is not
   * reading). A collector that stops reading keeps acknowledging into its
   * receive buffer, unseen, until that is full, and then its window shrinks.
   * How much a buffer holds follows from the largest window the collector
   * advertised: measured on Linux 6.18 at 50 KB/s to 50 MB/s, a stalled
   * collector held 1.00 to 1.18 times that before its window closed. What it
   * holds unread is its buffer less the room it advertises now: at most 1.5
   * times its largest window less its window now (and a slack), so what was
   * acknowledged before that was read. While the window has shrunk below half
   * its largest, the collector may have stopped reading: no evidence, the byte
   * window rules.
   */
  #read(now: number): number {
    if (this.#evidence === undefined) return -1;
    if (now - this.#lastLook >= EVIDENCE_EVERY_MS) {
      this.#lastLook = now;
      this.#look = this.#evidence();
      if (this.#look === undefined) this.#evidence = undefined;
      else this.#maxWnd = Math.max(this.#maxWnd, this.#look.sndWnd);
    }
    const look = this.#look;
    if (look === undefined || look.sndWnd < this.#maxWnd / 2) return -1;
    const unread = Math.max(0, BUFFER_PER_WINDOW * this.#maxWnd - look.sndWnd);
    return look.bytesAcked - unread - EVIDENCE_SLACK_BYTES;
  }

  /**
   * A clean end: sends our end of the stream, and confirms everything written
   * only if the collector closes its side within {@linkcode END_WAIT_MS} (it
   * read up to our end); otherwise what the window has not confirmed stays
   * unconfirmed, and is resent. Never rejects.
   */
  async end(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    let read = false;
    if (this.#written.length > 0) {
      let timer: unknown;
      try {
        await this.#conn.closeWrite();
        read = await new Promise<boolean>((resolve) => {
          this.#abandon = () => resolve(false);
          timer = this.#clock.setTimeout(() => resolve(false), END_WAIT_MS);
          this.#peerEnd.then(resolve);
        });
      } catch {
        // Broken already: nothing more is confirmed.
      } finally {
        this.#clock.clearTimeout(timer);
        this.#abandon = undefined;
      }
    }
    const n = this.#written.takeAll().length;
    this.#bytes = 0;
    closeQuietly(this.#conn);
    if (read && n > 0) this.#events.confirmed(n);
  }

  /** {@inheritDoc Link.destroy} */
  destroy(reason: string): void {
    this.#abandon?.();
    this.#fail(reason);
  }

  #fail(reason: string): void {
    if (this.#done) return;
    this.#done = true;
    this.#failure = reason;
    closeQuietly(this.#conn);
    this.#events.broken(reason);
  }

  /**
   * Notices the collector closing or resetting the connection; resolves with
   * whether it closed cleanly (a peer that closes with our bytes unread resets).
   */
  async #watch(): Promise<boolean> {
    const buf = new Uint8Array(4096);
    let reason = "collector closed the connection";
    let clean = true;
    try {
      while ((await this.#conn.read(buf)) !== null) {
        // Plain syslog collectors send nothing; whatever comes is ignored.
      }
    } catch (e) {
      clean = false;
      reason = `connection failed: ${errorText(e)}`;
    }
    this.#fail(reason);
    return clean;
  }
}
