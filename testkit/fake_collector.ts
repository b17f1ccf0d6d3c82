/**
 * A collector that misbehaves on request: never accepts, accepts but never reads,
 * or serves (reads octet-counted frames and keeps the messages).
 *
 * @module
 */

import { freePort } from "./free_port.ts";
import { closeQuietly } from "../ground/mod.ts";

/** How a {@linkcode FakeCollector} treats connections. */
export type FakeMode = "blackhole" | "stall" | "serve";

/** Options of {@linkcode FakeCollector.start}. */
export interface FakeOptions {
  /** Listen on this port instead of a free one. */
  port?: number;
  /** `serve` stops reading (and holds the connection open) once this many bytes were read in all. */
  stallAfterBytes?: number;
}

const decoder = new TextDecoder();

/**
 * A TCP listener on 127.0.0.1 for fault tests. `blackhole`: connections wait in
 * the kernel's backlog, never accepted. `stall`: accepted, never read. `serve`:
 * accepted and read; octet-counted frames become {@linkcode FakeCollector.lines}.
 * Switching to `serve` is the collector recovering: connections it was holding,
 * and what the kernel buffered for them, are read then.
 */
export class FakeCollector {
  readonly port: number;
  readonly lines: string[] = [];
  /** Bytes read so far, over all connections. */
  bytesRead = 0;
  #stallAfter: number;
  #listener: Deno.Listener;
  #mode: FakeMode;
  #held: Deno.Conn[] = [];
  #accepting = false;
  #closed = false;

  private constructor(port: number, mode: FakeMode, stallAfter: number) {
    this.port = port;
    this.#mode = mode;
    this.#stallAfter = stallAfter;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port });
    if (mode !== "blackhole") this.#accept();
  }

  /** Listens on a free port (or `opts.port`) in `mode`. */
  static async start(mode: FakeMode, opts: FakeOptions = {}): Promise<FakeCollector> {
    return new FakeCollector(opts.port ?? await freePort(), mode, opts.stallAfterBytes ?? Infinity);
  }

  /** Changes the mode; `serve` reads every held connection. */
  set mode(mode: FakeMode) {
    this.#mode = mode;
    if (mode !== "blackhole") this.#accept();
    if (mode === "serve") { for (const c of this.#held.splice(0)) this.#read(c); }
  }

  /** Closes the listener and every connection. */
  close(): void {
    this.#closed = true;
    closeQuietly(this.#listener);
    for (const c of this.#held) {
      closeQuietly(c);
    }
  }

  async #accept(): Promise<void> {
    if (this.#accepting) return;
    this.#accepting = true;
    try {
      for await (const conn of this.#listener) {
        if (this.#mode === "serve") this.#read(conn);
        else this.#held.push(conn);
      }
    } catch {
      // Closed.
    }
  }

  async #read(conn: Deno.Conn): Promise<void> {
    let buf = new Uint8Array(0);
    const chunk = new Uint8Array(65536);
    try {
      for (;;) {
        if (this.bytesRead >= this.#stallAfter) {
          // Stalled: the connection stays open, unread (closed with the collector).
          this.#held.push(conn);
          return;
        }
        const n = await conn.read(
          chunk.subarray(0, Math.min(chunk.length, this.#stallAfter - this.bytesRead)),
        );
        if (n === null) break;
        this.bytesRead += n;
        const next = new Uint8Array(buf.length + n);
        next.set(buf);
        next.set(chunk.subarray(0, n), buf.length);
        buf = next;
        let p = 0;
        for (;;) {
          const sp = buf.indexOf(0x20, p);
          if (sp < 0) break;
          const len = Number(decoder.decode(buf.subarray(p, sp)));
          if (sp + 1 + len > buf.length) break;
          this.lines.push(decoder.decode(buf.subarray(sp + 1, sp + 1 + len)));
          p = sp + 1 + len;
        }
        buf = buf.slice(p);
      }
    } catch {
      // Reset or closed.
    }
    if (!this.#closed) {
      closeQuietly(conn);
    }
  }
}
