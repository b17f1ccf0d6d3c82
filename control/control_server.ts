/**
 * The control socket: one JSON request and one JSON response per line.
 *
 * @module
 */

import { errorText, LF, type Logger } from "../ground/mod.ts";
import { Connections, listenUnix, removeSocket, type Touch } from "../relay/mod.ts";
import {
  type ControlAnswers,
  type ControlCommand,
  type ControlRequests,
  type ControlResponse,
  parseControlRequest,
  type TapLine,
  type TapRequest,
} from "./control_protocol.ts";

/**
 * The agent's side of each command: a function per command that takes its
 * typed request and resolves to its answer, or throws an Error whose message
 * is the `error` the client gets. Requests reach a handler already parsed by
 * {@linkcode parseControlRequest}.
 */
export type ControlHandlers = {
  [C in ControlCommand]: (request: ControlRequests[C]) => Promise<ControlAnswers[C]>;
};

/** Requests longer than this are answered with an error and the connection is closed. */
const MAX_REQUEST = 64 * 1024;
/** Connections beyond this many open ones are closed at once. */
const MAX_CONNECTIONS = 64;
/** A connection that sends no complete request for this long is closed. */
const IDLE_MS = 60_000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A unix stream socket, created with mode 0660 and owned by `group` (root and
 * that group only; root only when the group does not exist). Only a stale
 * socket at its path is replaced: a symlink or a file there is refused, never
 * followed. Each line is a request like `{"command": "status"}`; each answer is
 * `{"ok": true, "result": …}` or `{"ok": false, "error": "…"}` on one line
 * (`control_protocol.ts`). A line that is not a request is answered with the
 * parser's error and the connection keeps serving.
 *
 * @example
 * ```ts
 * import { ControlServer } from "./control_server.ts";
 * import type { Status } from "./status.ts";
 * import { Logger } from "../ground/mod.ts";
 *
 * declare const status: () => Status;
 * const log = new Logger({ level: "info", format: "text" });
 * const server = new ControlServer("/run/syslog-agent/agent.sock", "adm", {
 *   status: () => Promise.resolve(status()),
 *   reload: () => Promise.resolve("reloaded: nothing changed"),
 *   rotate: () => Promise.reject(new Error("rotate: rsyslogd is not managed by the agent")),
 *   tap: () => Promise.reject(new Error("tap: not here")),
 *   spool: () => Promise.reject(new Error("spool: not here")),
 * }, log);
 * await server.listen();
 * ```
 */
export class ControlServer {
  #path: string;
  #group: string;
  #handlers: ControlHandlers;
  #log: Logger;
  #conns: Connections;

  /** Serves at `path` (created by {@linkcode listen}), for root and `group`, with `handlers`. */
  constructor(path: string, group: string, handlers: ControlHandlers, log: Logger) {
    this.#path = path;
    this.#group = group;
    this.#handlers = handlers;
    this.#log = log;
    this.#conns = new Connections({ name: "control", max: MAX_CONNECTIONS, idleMs: IDLE_MS, log });
  }

  /** Creates the socket and starts serving. */
  async listen(): Promise<void> {
    const slash = this.#path.lastIndexOf("/");
    if (slash < 0) {
      throw new Error(
        `control: the socket path "${this.#path}" has no directory; give control.socket one, like "/run/syslog-agent/agent.sock"`,
      );
    }
    const dir = this.#path.slice(0, slash) || "/";
    let listener: Deno.Listener;
    try {
      await Deno.mkdir(dir, { recursive: true });
      const gid = await groupId(this.#group);
      listener = await listenUnix(
        this.#path,
        gid === undefined ? { mode: 0o660 } : { mode: 0o660, gid },
      );
    } catch (e) {
      const why = errorText(e);
      throw new Error(
        `control: cannot create the socket ${this.#path}: ${why}${
          / not a socket; remove it$/.test(why) ? "" : `; check that ${dir} is writable`
        } or change control.socket`,
      );
    }
    this.#conns.run(listener, (conn, touch) => this.#serve(conn, touch));
  }

  /** Stops serving and removes the socket file (only a socket). */
  close(): Promise<void> {
    this.#conns.close();
    removeSocket(this.#path);
    return Promise.resolve();
  }

  async #serve(conn: Deno.Conn, touch: Touch): Promise<void> {
    const buf = new Uint8Array(MAX_REQUEST + 1);
    let fill = 0;
    try {
      for (;;) {
        const n = await conn.read(buf.subarray(fill));
        if (n === null) break;
        touch();
        fill += n;
        let nl: number;
        while ((nl = buf.subarray(0, fill).indexOf(LF)) >= 0) {
          const line = decoder.decode(buf.subarray(0, nl));
          buf.copyWithin(0, nl + 1, fill);
          fill -= nl + 1;
          const parsed = parseControlRequest(line);
          if (parsed.ok && parsed.request.command === "tap") {
            // A tap takes the connection over until its limit or the client's end.
            await this.#tap(conn, parsed.request, touch);
            return;
          }
          await this.#reply(conn, await this.#answer(line));
        }
        if (fill > MAX_REQUEST) {
          await this.#reply(conn, { ok: false, error: `request longer than ${MAX_REQUEST} bytes` });
          break;
        }
      }
    } catch (e) {
      this.#log.debug(`control: connection ended: ${errorText(e)}`);
    }
  }

  async #answer(line: string): Promise<ControlResponse> {
    const parsed = parseControlRequest(line);
    if (!parsed.ok) return parsed;
    try {
      return {
        ok: true,
        result: await dispatch(this.#handlers, parsed.request.command, parsed.request),
      };
    } catch (e) {
      return { ok: false, error: errorText(e) };
    }
  }

  /**
   * Serves a tap: `{"ok": true, "result": "tap open"}`, then a line per message
   * (and the count skipped whenever it grew), until the limit or the client's
   * end of the connection (a half-close), and a last `end` line.
   */
  async #tap(conn: Deno.Conn, request: TapRequest, touch: Touch): Promise<void> {
    let session: ControlAnswers["tap"];
    try {
      session = await this.#handlers.tap(request);
    } catch (e) {
      await this.#reply(conn, { ok: false, error: errorText(e) });
      return;
    }
    // The client's end (or anything it sends) ends the tap.
    conn.read(new Uint8Array(1)).then(() => session.close(), () => session.close());
    let sent = 0;
    let skipped = 0;
    const quiet = Symbol("quiet");
    try {
      await this.#write(conn, JSON.stringify({ ok: true, result: "tap open" }) + "\n");
      let next = session.take();
      for (;;) {
        // A tap that waits long for a match is not an idle connection.
        let timer: ReturnType<typeof setTimeout> | undefined;
        const events = await Promise.race([
          next,
          new Promise<typeof quiet>((r) => timer = setTimeout(() => r(quiet), IDLE_MS / 2)),
        ]);
        clearTimeout(timer);
        touch();
        if (events === quiet) continue;
        if (events.length === 0) break;
        next = session.take();
        let text = "";
        for (const e of events) {
          if (request.limit !== undefined && sent >= request.limit) break;
          const line: TapLine = {
            at: new Date(e.at).toISOString(),
            ...(e.input === undefined ? {} : { input: e.input }),
            ...(e.collector === undefined ? {} : { collector: e.collector }),
            size: e.message.length,
            message: decoder.decode(e.message),
          };
          text += JSON.stringify(line) + "\n";
          sent++;
        }
        if (session.skipped() !== skipped) {
          skipped = session.skipped();
          text += JSON.stringify({ skipped } satisfies TapLine) + "\n";
        }
        await this.#write(conn, text);
        if (request.limit !== undefined && sent >= request.limit) break;
      }
      // The limit, or the client's end of the connection: what was sent and skipped.
      skipped = session.skipped();
      await this.#write(
        conn,
        JSON.stringify({ end: true, sent, skipped } satisfies TapLine) + "\n",
      );
    } catch (e) {
      this.#log.debug(`control: tap ended: ${errorText(e)}`);
    } finally {
      session.close();
    }
  }

  async #write(conn: Deno.Conn, text: string): Promise<void> {
    const data = encoder.encode(text);
    let off = 0;
    while (off < data.length) off += await conn.write(data.subarray(off));
  }

  async #reply(conn: Deno.Conn, response: ControlResponse): Promise<void> {
    const data = encoder.encode(JSON.stringify(response) + "\n");
    let off = 0;
    while (off < data.length) off += await conn.write(data.subarray(off));
  }
}

/** Runs the handler of `command` (a generic function, so TS pairs request and answer). */
function dispatch<C extends ControlCommand>(
  handlers: ControlHandlers,
  command: C,
  request: ControlRequests[C],
): Promise<ControlAnswers[C]> {
  return handlers[command](request);
}

/** The id of a group from /etc/group, or undefined when there is none. */
async function groupId(name: string): Promise<number | undefined> {
  const text = await Deno.readTextFile("/etc/group").catch(() => "");
  for (const line of text.split("\n")) {
    const [group, , gid] = line.split(":");
    if (group === name && gid !== undefined) return Number(gid);
  }
  return undefined;
}
