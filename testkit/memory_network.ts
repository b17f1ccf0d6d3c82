/**
 * An in-memory network for tests: collectors that listen on `host:port`
 * addresses, a dialer for the forwarder, bounded buffers (so backpressure
 * exists) and the faults an operator's network has. No sockets, no timers:
 * everything moves on promise callbacks, so with a fake clock nothing depends
 * on wall time.
 *
 * @module
 */

import { concat, errorText } from "../ground/mod.ts";
import { octetFrames } from "./octets.ts";

const decoder = new TextDecoder();

/** Buffer sizes of {@linkcode MemoryNetwork}. */
export interface MemoryNetworkOptions {
  /** Bytes a sender holds before its writes block, like `SO_SNDBUF` (default 64 KiB). */
  sendBufferBytes?: number;
  /** Bytes a receiver holds unread, like `SO_RCVBUF` (default 64 KiB). */
  receiveBufferBytes?: number;
}

/** Options of {@linkcode MemoryNetwork.listen}. */
export interface MemoryListenOptions {
  /**
   * What the collector does with each connection it accepts: `read` (the
   * default) reads everything as it comes and closes its side at the agent's
   * end of stream; `stall` accepts and never reads (until
   * {@linkcode MemoryPeer.resume}).
   */
  mode?: "read" | "stall";
  /** The collector's receive buffer, instead of the network's. */
  receiveBufferBytes?: number;
  /**
   * Serves each accepted connection instead of the recording reader (for a
   * collector that answers, such as a RELP responder). The peer then records
   * nothing itself.
   */
  serve?: (conn: MemoryConn) => void | Promise<void>;
}

/**
 * A one-way byte stream between two ends: what one end writes and the other
 * has not read yet, at most `capacity` bytes (the sender's send buffer plus the
 * receiver's receive buffer).
 */
class Pipe {
  readonly capacity: number;
  #chunks: Uint8Array[] = [];
  #size = 0;
  /** `shut`: the writer half-closed (FIN); `closed`: the writer's end is closed. */
  writer: "open" | "shut" | "closed" = "open";
  readerClosed = false;
  /** While set, reads wait as if nothing had come (a reader that stopped reading). */
  held = false;
  /** Set by a reset: every operation on either end fails with it. */
  failure: (() => Error) | undefined;
  #waiters: (() => void)[] = [];

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Bytes written and not read. */
  get size(): number {
    return this.#size;
  }

  async write(p: Uint8Array): Promise<number> {
    for (;;) {
      if (this.failure) throw this.failure();
      if (this.writer === "closed") throw closedError("write");
      if (this.writer === "shut") {
        throw new Deno.errors.BrokenPipe("write after closeWrite (memory network)");
      }
      if (this.readerClosed) {
        throw new Deno.errors.BrokenPipe("broken pipe: the peer closed the connection");
      }
      if (p.length === 0) return 0;
      const space = this.capacity - this.#size;
      if (space > 0) {
        const n = Math.min(space, p.length);
        this.#chunks.push(p.slice(0, n));
        this.#size += n;
        this.#wake();
        return n;
      }
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  async read(p: Uint8Array): Promise<number | null> {
    for (;;) {
      if (this.failure) throw this.failure();
      if (this.readerClosed) throw closedError("read");
      if (this.held) {
        await new Promise<void>((r) => this.#waiters.push(r));
        continue;
      }
      if (this.#size > 0) {
        if (p.length === 0) return 0;
        let n = 0;
        while (n < p.length && this.#chunks.length > 0) {
          const c = this.#chunks[0]!;
          const take = Math.min(c.length, p.length - n);
          p.set(c.subarray(0, take), n);
          n += take;
          if (take === c.length) this.#chunks.shift();
          else this.#chunks[0] = c.subarray(take);
        }
        this.#size -= n;
        this.#wake();
        return n;
      }
      if (this.writer !== "open") return null;
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  /** Discards what is buffered and fails every operation from now on. */
  reset(): void {
    this.failure ??= () =>
      new Deno.errors.ConnectionReset("connection reset by peer (memory network)");
    this.#chunks = [];
    this.#size = 0;
    this.#wake();
  }

  closeReader(): void {
    this.readerClosed = true;
    this.#chunks = [];
    this.#size = 0;
    this.#wake();
  }

  hold(on: boolean): void {
    this.held = on;
    this.#wake();
  }

  endWriter(how: "shut" | "closed"): void {
    if (this.writer !== "closed") this.writer = how;
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

function closedError(op: string): Error {
  return new Deno.errors.BadResource(`${op} on a closed connection (memory network)`);
}

/**
 * One end of an in-memory connection: a `Deno.TcpConn` (`read`, `write`,
 * `closeWrite`, `close`, `readable`, `writable`, `setNoDelay`, the addresses).
 * Closing an end while what it was sent is unread resets the connection, as
 * TCP does.
 */
export interface MemoryConn extends Deno.TcpConn {
  /** Whether `close` was called on this end. */
  readonly closed: boolean;
  /** Whether Nagle's algorithm was turned off (`setNoDelay(true)`). */
  readonly noDelay: boolean;
  /** Bytes sent to this end and not read yet. */
  readonly unread: number;
  /** Resets the connection: every operation on either end fails, buffered bytes are lost. */
  reset(): void;
}

class Conn implements MemoryConn {
  readonly localAddr: Deno.NetAddr;
  readonly remoteAddr: Deno.NetAddr;
  #in: Pipe;
  #out: Pipe;
  #closed = false;
  #noDelay = false;
  #onClose: () => void;
  #readable: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
  #writable: WritableStream<Uint8Array<ArrayBufferLike>> | undefined;

  constructor(
    input: Pipe,
    output: Pipe,
    localAddr: Deno.NetAddr,
    remoteAddr: Deno.NetAddr,
    onClose: () => void,
  ) {
    this.#in = input;
    this.#out = output;
    this.localAddr = localAddr;
    this.remoteAddr = remoteAddr;
    this.#onClose = onClose;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get noDelay(): boolean {
    return this.#noDelay;
  }

  get unread(): number {
    return this.#in.size;
  }

  /** Stops (or resumes) taking what the peer sends: reads wait, the buffers fill. */
  hold(on: boolean): void {
    this.#in.hold(on);
  }

  /** Reads what the peer wrote; `null` once the peer ended its side and all was read. */
  read(p: Uint8Array): Promise<number | null> {
    if (this.#closed) return Promise.reject(closedError("read"));
    return this.#in.read(p);
  }

  /** Writes as much of `p` as the buffers take, waiting while they are full. */
  write(p: Uint8Array): Promise<number> {
    if (this.#closed) return Promise.reject(closedError("write"));
    return this.#out.write(p);
  }

  /** Ends our side: the peer reads what is buffered, then end of stream. */
  closeWrite(): Promise<void> {
    if (this.#closed) return Promise.reject(closedError("closeWrite"));
    if (this.#out.failure) return Promise.reject(this.#out.failure());
    this.#out.endWriter("shut");
    return Promise.resolve();
  }

  /**
   * Closes this end: the peer reads what is buffered, then end of stream; if
   * what the peer sent is unread, the connection is reset instead.
   */
  close(): void {
    if (this.#closed) throw closedError("close");
    this.#closed = true;
    const unread = this.#in.size > 0;
    this.#in.closeReader();
    this.#out.endWriter("closed");
    if (unread) this.#out.reset();
    this.#onClose();
  }

  /** Resets the connection for both ends. */
  reset(): void {
    this.#in.reset();
    this.#out.reset();
  }

  /** Records the setting; there is no Nagle here. */
  setNoDelay(noDelay = true): void {
    this.#noDelay = noDelay;
  }

  /** Nothing to keep alive in memory. */
  setKeepAlive(_keepAlive?: boolean): void {}

  /** No event loop resource to hold. */
  ref(): void {}

  /** No event loop resource to hold. */
  unref(): void {}

  /** The connection's incoming bytes as a stream. */
  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    this.#readable ??= new ReadableStream<Uint8Array<ArrayBuffer>>({
      pull: async (controller) => {
        const buf = new Uint8Array(16 * 1024);
        const n = await this.read(buf);
        if (n === null) controller.close();
        else controller.enqueue(buf.slice(0, n));
      },
    });
    return this.#readable;
  }

  /** A stream that writes to the connection. */
  get writable(): WritableStream<Uint8Array<ArrayBufferLike>> {
    this.#writable ??= new WritableStream<Uint8Array<ArrayBufferLike>>({
      write: async (chunk) => {
        let off = 0;
        while (off < chunk.length) off += await this.write(chunk.subarray(off));
      },
      close: () => this.closeWrite(),
    });
    return this.#writable;
  }

  /** Closes, if not closed yet. */
  [Symbol.dispose](): void {
    if (!this.#closed) this.close();
  }
}

/**
 * The collector's end of one accepted connection: what it read, and the
 * collector's own faults (stall, clean close).
 */
export interface MemoryPeer {
  /** The collector's end of the connection. */
  readonly conn: MemoryConn;
  /** Bytes read so far. */
  readonly bytes: number;
  /** Bytes the agent wrote that the collector has not read (in the buffers). */
  readonly unread: number;
  /** Whether reading ended: end of stream, an error, or the collector closed. */
  readonly ended: boolean;
  /** The error that ended reading (a reset), if one did. */
  readonly error: string | undefined;
  /** Resolves once the reader (or `serve`) is done. */
  readonly done: Promise<void>;
  /** Everything read so far, in order. */
  data(): Uint8Array;
  /** The complete LF-terminated lines read so far, without the LF. */
  lines(): string[];
  /** The messages of the complete octet-counted frames (`LEN SP MSG`) read so far. */
  frames(): string[];
  /** Stops reading at once: the agent's writes fill the buffers, then block. */
  stall(): void;
  /** Reads again after `stall` or on a `stall` listener. */
  resume(): void;
  /** A clean close by the collector: end of stream for the agent (a reset if it left bytes unread). */
  close(): void;
}

class Peer implements MemoryPeer {
  readonly conn: Conn;
  #chunks: Uint8Array[] = [];
  #bytes = 0;
  #ended = false;
  #error: string | undefined;
  #done: Promise<void>;

  /** The collector end of `conn`; a reader runs unless `serve` handles it. */
  constructor(
    conn: Conn,
    mode: "read" | "stall",
    serve: ((conn: MemoryConn) => void | Promise<void>) | undefined,
  ) {
    this.conn = conn;
    conn.hold(mode === "stall");
    this.#done = serve !== undefined
      ? Promise.resolve().then(() => serve(conn)).catch((e) => {
        this.#error = errorText(e);
      }).finally(() => this.#ended = true)
      : this.#read();
  }

  /** Bytes read so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Bytes the agent wrote that this collector has not read (in its buffers). */
  get unread(): number {
    return this.conn.unread;
  }

  /** Whether reading ended: end of stream, an error, or the collector closed. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The error that ended reading (a reset), if one did. */
  get error(): string | undefined {
    return this.#error;
  }

  /** Resolves once the reader (or `serve`) is done. */
  get done(): Promise<void> {
    return this.#done;
  }

  /** Everything read so far, in order. */
  data(): Uint8Array {
    return concat(this.#chunks);
  }

  /** The complete LF-terminated lines read so far, without the LF. */
  lines(): string[] {
    const data = this.data();
    const out: string[] = [];
    let p = 0;
    for (;;) {
      const i = data.indexOf(0x0a, p);
      if (i < 0) return out;
      out.push(decoder.decode(data.subarray(p, i)));
      p = i + 1;
    }
  }

  /** The messages of the complete octet-counted frames (`LEN SP MSG`) read so far. */
  frames(): string[] {
    return octetFrames(this.data());
  }

  /** Stops reading at once: the agent's writes fill the buffers, then block. */
  stall(): void {
    this.conn.hold(true);
  }

  /** Reads again after {@linkcode MemoryPeer.stall} or a `stall` listener. */
  resume(): void {
    this.conn.hold(false);
  }

  /** A clean close by the collector: end of stream for the agent (a reset if it left bytes unread). */
  close(): void {
    if (!this.conn.closed) this.conn.close();
    this.resume();
  }

  async #read(): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await this.conn.read(buf);
        if (n === null) break;
        this.#chunks.push(buf.slice(0, n));
        this.#bytes += n;
      }
    } catch (e) {
      if (!this.conn.closed) this.#error = errorText(e);
    }
    this.#ended = true;
    // A collector closes its side when the agent ends the stream (or it broke).
    if (!this.conn.closed) this.conn.close();
  }
}

/** A collector listening on the memory network: the connections it accepted. */
export interface MemoryListener {
  /** `host:port` it listens on. */
  readonly address: string;
  /** Every connection accepted, oldest first. */
  readonly peers: readonly MemoryPeer[];
  /** What the collector does with connections it accepts from now on. */
  mode: "read" | "stall";
  /** Whether it still accepts connections. */
  readonly listening: boolean;
  /** Everything read on every connection, in order of connection. */
  data(): Uint8Array;
  /** The octet-counted messages of every connection, in order of connection. */
  frames(): string[];
  /** The LF lines of every connection, in order of connection. */
  lines(): string[];
  /** Stops listening: new dials are refused; open connections stay. Idempotent. */
  close(): void;
  /** A collector crash: stops listening and resets its open connections. */
  crash(): void;
  /** Resolves once every connection's reader is done. */
  done(): Promise<void>;
}

class Listener implements MemoryListener {
  readonly address: string;
  /** Every connection accepted, oldest first. */
  readonly peers: MemoryPeer[] = [];
  mode: "read" | "stall";
  readonly receiveBufferBytes: number;
  #serve: ((conn: MemoryConn) => void | Promise<void>) | undefined;
  #listening = true;
  #onClose: () => void;

  constructor(
    address: string,
    receiveBufferBytes: number,
    opts: MemoryListenOptions,
    onClose: () => void,
  ) {
    this.address = address;
    this.receiveBufferBytes = receiveBufferBytes;
    this.mode = opts.mode ?? "read";
    this.#serve = opts.serve;
    this.#onClose = onClose;
  }

  /** Whether it still accepts connections. */
  get listening(): boolean {
    return this.#listening;
  }

  /** Everything read on every connection, in order of connection. */
  data(): Uint8Array {
    return concat(this.peers.map((p) => p.data()));
  }

  /** The octet-counted messages of every connection, in order of connection. */
  frames(): string[] {
    return this.peers.flatMap((p) => p.frames());
  }

  /** The LF lines of every connection, in order of connection. */
  lines(): string[] {
    return this.peers.flatMap((p) => p.lines());
  }

  /** Stops listening: new dials are refused; open connections stay. Idempotent. */
  close(): void {
    if (!this.#listening) return;
    this.#listening = false;
    this.#onClose();
  }

  /** A collector crash: stops listening and resets its open connections. */
  crash(): void {
    this.close();
    for (const p of this.peers) p.conn.reset();
  }

  /** Resolves once every connection's reader is done. */
  async done(): Promise<void> {
    await Promise.all(this.peers.map((p) => p.done));
  }

  accept(conn: Conn): void {
    this.peers.push(new Peer(conn, this.mode, this.#serve));
  }
}

/**
 * An in-memory network. {@linkcode MemoryNetwork.listen} starts a collector
 * at an address; {@linkcode MemoryNetwork.dial} is a forwarder `Dialer` that
 * connects to it. Each direction of a connection holds at most the sender's
 * send buffer plus the receiver's receive buffer: past that, writes block
 * until the peer reads. Faults: connection refused (nothing listens), a
 * connect that never completes ({@linkcode MemoryNetwork.blackhole}), a peer
 * that never reads (`mode: "stall"`, {@linkcode MemoryPeer.stall}), a reset of
 * every open connection ({@linkcode MemoryNetwork.resetAll}), a clean close by
 * the peer ({@linkcode MemoryPeer.close}).
 *
 * @example
 * ```ts
 * import { MemoryNetwork } from "./memory_network.ts";
 *
 * const net = new MemoryNetwork({ sendBufferBytes: 1024, receiveBufferBytes: 1024 });
 * const collector = net.listen("10.0.0.1:514");
 * const conn = await net.dial({ address: "10.0.0.1:514" });
 * await conn.write(new TextEncoder().encode("5 hello"));
 * conn.close();
 * await collector.done();
 * collector.frames(); // ["hello"]
 * ```
 */
export class MemoryNetwork {
  #send: number;
  #receive: number;
  #listeners = new Map<string, Listener>();
  #blackholed = new Set<string>();
  #open = new Set<MemoryConn>();
  #attempts = new Map<string, number>();
  #nextPort = 40_000;

  /** An empty network with the given buffer sizes. */
  constructor(opts: MemoryNetworkOptions = {}) {
    this.#send = opts.sendBufferBytes ?? 64 * 1024;
    this.#receive = opts.receiveBufferBytes ?? 64 * 1024;
  }

  /**
   * A collector at `address` (`host:port`).
   *
   * @throws {Deno.errors.AddrInUse} when a listener is open there already
   */
  listen(address: string, opts: MemoryListenOptions = {}): MemoryListener {
    netAddr(address);
    if (this.#listeners.has(address)) {
      throw new Deno.errors.AddrInUse(
        `cannot listen on ${address}: a memory listener is open there; close it first`,
      );
    }
    const listener = new Listener(
      address,
      opts.receiveBufferBytes ?? this.#receive,
      opts,
      () => this.#listeners.delete(address),
    );
    this.#listeners.set(address, listener);
    return listener;
  }

  /**
   * Connects to the listener at `collector.address` (a forwarder `Dialer`;
   * the address as written, or parsed with its `text`):
   * rejects with `ConnectionRefused` when none listens, never settles while
   * the address is blackholed.
   */
  dial = (
    collector: { readonly address: string | { readonly text: string } },
  ): Promise<MemoryConn> => {
    const address = typeof collector.address === "string"
      ? collector.address
      : collector.address.text;
    this.#attempts.set(address, (this.#attempts.get(address) ?? 0) + 1);
    if (this.#blackholed.has(address)) return new Promise<MemoryConn>(() => {});
    const listener = this.#listeners.get(address);
    if (listener === undefined) {
      return Promise.reject(
        new Deno.errors.ConnectionRefused(
          `connection refused: nothing listens on ${address} (memory network)`,
        ),
      );
    }
    const server = netAddr(address);
    const client: Deno.NetAddr = {
      transport: "tcp",
      hostname: "127.0.0.1",
      port: this.#nextPort++,
    };
    const up = new Pipe(this.#send + listener.receiveBufferBytes);
    const down = new Pipe(this.#send + this.#receive);
    const closed = () => {
      if (agent.closed && peer.closed) this.#open.delete(agent);
    };
    const agent: Conn = new Conn(down, up, client, server, closed);
    const peer: Conn = new Conn(up, down, server, client, closed);
    this.#open.add(agent);
    listener.accept(peer);
    return Promise.resolve(agent);
  };

  /** While `on`, dials to `address` never complete (a firewall that drops SYNs). */
  blackhole(address: string, on = true): void {
    if (on) this.#blackholed.add(address);
    else this.#blackholed.delete(address);
  }

  /** Resets every open connection (both ends fail); returns how many. */
  resetAll(): number {
    const n = this.#open.size;
    for (const c of this.#open) c.reset();
    this.#open.clear();
    return n;
  }

  /** Dials to `address` so far, answered or not. */
  attempts(address: string): number {
    return this.#attempts.get(address) ?? 0;
  }

  /** Connections not yet closed by both ends. */
  get openConnections(): number {
    return this.#open.size;
  }
}

function netAddr(address: string): Deno.NetAddr {
  const i = address.lastIndexOf(":");
  const port = Number(address.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`memory network: expected an address "host:port", got "${address}"`);
  }
  return { transport: "tcp", hostname: address.slice(0, i).replace(/^\[|\]$/g, ""), port };
}
