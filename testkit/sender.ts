/**
 * Test senders: push sequence-numbered syslog messages over TCP (one
 * connection, octet-counted or LF framing) or UDP (one datagram each),
 * optionally paced, and measure how long the sender was blocked.
 *
 * @module
 */

import { createSocket } from "node:dgram";
import { seqMessage } from "./seq_check.ts";
import { closeQuietly, concat, errorText } from "../ground/mod.ts";
import { sleep } from "./cleanup.ts";

/** Options for {@link sendSeq}. */
export interface SendSeqOptions {
  /** TCP port on 127.0.0.1. */
  port: number;
  /** Number of messages. */
  count: number;
  /** Size of each message in bytes, framing not included (see `seqMessage`). */
  size: number;
  /** RFC 6587 octet counting (`LEN SP MSG`) or one message per `\n`-terminated line. */
  framing: "octet-counted" | "lf";
  /** Messages per second; unpaced (as fast as the socket takes them) when omitted. */
  ratePerSec?: number | undefined;
  /** APP-NAME of the messages (default "app"). */
  tag?: string | undefined;
  /** First sequence number (default 0); messages carry start..start+count-1. */
  start?: number | undefined;
  /**
   * Messages per `write` call (default: ~5 ms worth when paced, ~64 KiB when
   * not). `1` is an application's syslog handler: one message per `send()`.
   */
  perWrite?: number | undefined;
}

/** Result of {@link sendSeq}. */
export interface SendSeqResult {
  /** Messages written completely. */
  sent: number;
  /** Longest time a single `conn.write` call took to resolve, in ms. */
  maxWriteWaitMs: number;
  /** Time from the first write until the last one resolved, in ms. */
  elapsedMs: number;
}

/** Options for {@link sendUdp}. */
export interface SendUdpOptions {
  /** UDP port on 127.0.0.1. */
  port: number;
  /** Number of messages (one datagram each). */
  count: number;
  /** Size of each datagram in bytes (see `seqMessage`). */
  size: number;
  /** Messages per second; unpaced when omitted (the receiver may then drop some). */
  ratePerSec?: number | undefined;
  /** APP-NAME of the messages (default "app"). */
  tag?: string | undefined;
  /** First sequence number (default 0). */
  start?: number | undefined;
}

/** Result of {@link sendUdp}. */
export interface SendUdpResult {
  /** Datagrams handed to the kernel. */
  sent: number;
  /** Time from the first send until the last one completed, in ms. */
  elapsedMs: number;
}

/** Unpaced TCP batches are about this big. */
const UNPACED_BATCH_BYTES = 64 * 1024;
/** Paced senders send one batch per this many milliseconds. */
const PACE_SLICE_MS = 5;

const encoder = new TextEncoder();

/**
 * Sends `count` messages built by `seqMessage` over one TCP connection to
 * 127.0.0.1:`port`, then closes it. Messages are written in batches; with
 * `ratePerSec`, one batch of about 5 ms worth is due at a fixed time after
 * the start (batch k at k·batch/rate), so pacing does not drift (`perWrite`
 * sets the batch: 1 is one message per write). Each batch
 * goes out with a write-all loop and the longest single `conn.write` wait is
 * reported: a sender that is never blocked sees it stay near zero.
 * A failed connect or write rejects, naming how many messages were sent.
 */
export async function sendSeq(opts: SendSeqOptions): Promise<SendSeqResult> {
  const start = opts.start ?? 0;
  const perBatch = opts.perWrite ?? batchSize(opts.ratePerSec, opts.size);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: opts.port, transport: "tcp" });
  let sent = 0;
  let maxWriteWaitMs = 0;
  const t0 = performance.now();
  try {
    while (sent < opts.count) {
      if (opts.ratePerSec !== undefined) await sleepUntil(t0 + (sent / opts.ratePerSec) * 1000);
      const n = Math.min(perBatch, opts.count - sent);
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < n; i++) {
        const msg = encoder.encode(seqMessage(start + sent + i, opts.size, opts.tag));
        const frame = opts.framing === "lf"
          ? concat([msg, encoder.encode("\n")])
          : concat([encoder.encode(`${msg.length} `), msg]);
        chunks.push(frame);
      }
      const buf = concat(chunks);
      let off = 0;
      while (off < buf.length) {
        const w0 = performance.now();
        off += await conn.write(buf.subarray(off));
        maxWriteWaitMs = Math.max(maxWriteWaitMs, performance.now() - w0);
      }
      sent += n;
    }
  } catch (err) {
    const why = errorText(err);
    throw new Error(
      `sendSeq: TCP write to 127.0.0.1:${opts.port} failed after ${sent} messages: ${why}`,
      {
        cause: err,
      },
    );
  } finally {
    closeQuietly(conn);
  }
  return { sent, maxWriteWaitMs, elapsedMs: performance.now() - t0 };
}

/**
 * Sends `count` messages built by `seqMessage` to 127.0.0.1:`port` over UDP,
 * one datagram per message, each awaited before the next (paced like
 * {@link sendSeq} when `ratePerSec` is given). The socket is closed at the end.
 */
export async function sendUdp(opts: SendUdpOptions): Promise<SendUdpResult> {
  const start = opts.start ?? 0;
  const perBatch = opts.ratePerSec === undefined ? 1 : batchSize(opts.ratePerSec, opts.size);
  const socket = createSocket("udp4");
  let sent = 0;
  const t0 = performance.now();
  try {
    while (sent < opts.count) {
      if (opts.ratePerSec !== undefined) await sleepUntil(t0 + (sent / opts.ratePerSec) * 1000);
      const n = Math.min(perBatch, opts.count - sent);
      for (let i = 0; i < n; i++) {
        const msg = encoder.encode(seqMessage(start + sent, opts.size, opts.tag));
        await new Promise<void>((resolve, reject) => {
          socket.send(msg, opts.port, "127.0.0.1", (err) => err ? reject(err) : resolve());
        });
        sent++;
      }
    }
  } catch (err) {
    const why = errorText(err);
    throw new Error(
      `sendUdp: send to 127.0.0.1:${opts.port} failed after ${sent} messages: ${why}`,
      {
        cause: err,
      },
    );
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
  return { sent, elapsedMs: performance.now() - t0 };
}

/** Messages per batch: ~5 ms worth when paced, ~64 KiB when not. */
function batchSize(ratePerSec: number | undefined, size: number): number {
  if (ratePerSec === undefined) return Math.max(1, Math.floor(UNPACED_BATCH_BYTES / (size + 8)));
  if (!(ratePerSec > 0)) throw new RangeError(`ratePerSec must be positive, got ${ratePerSec}`);
  return Math.max(1, Math.round((ratePerSec * PACE_SLICE_MS) / 1000));
}

/** Resolves at `when` (a `performance.now()` time); at once if that has passed. */
function sleepUntil(when: number): Promise<void> {
  const ms = when - performance.now();
  if (ms <= 0) return Promise.resolve();
  return sleep(ms);
}
