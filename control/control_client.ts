/**
 * The client side of the control socket, for `agent status`, `rotate` and `reload`,
 * the demo and the tests.
 *
 * @module
 */

import type { ControlAnswers, ControlRequest, ControlResponse } from "./control_protocol.ts";
import { closeQuietly, concat, errorText } from "../ground/mod.ts";

/** The agent could not be reached: not running, or the socket is not ours to use. */
export class UnreachableError extends Error {
  /** `cause` is what connecting to or reading from `socket` threw; the message says what to do. */
  constructor(socket: string, cause: unknown) {
    const why =
      cause instanceof Deno.errors.NotFound || cause instanceof Deno.errors.ConnectionRefused
        ? "is the agent running? (systemctl status syslog-agent)"
        : cause instanceof Deno.errors.PermissionDenied
        ? "permission denied: run as root or as a member of the control group"
        : errorText(cause);
    super(`agent: cannot reach the agent at ${socket}: ${why}`);
    this.name = "UnreachableError";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Sends one request to the control socket and returns the response's `result`,
 * typed by the command (`status` gives a `StatusAnswer`, `reload` a string,
 * `rotate` a `RotateResult`). Throws {@linkcode UnreachableError} when the
 * socket cannot be reached, and an Error with the agent's message when it
 * answers `ok: false`.
 *
 * @example
 * ```ts
 * import { controlRequest } from "./control_client.ts";
 *
 * const socket = "/run/syslog-agent/agent.sock";
 * const status = await controlRequest(socket, { command: "status", detail: true });
 * console.log(status.state, status.rates?.received);
 * const rotated = await controlRequest(socket, { command: "rotate" }, 60_000);
 * console.log(rotated.restarted ? `restarted: ${rotated.message}` : rotated.message);
 * ```
 */
export async function controlRequest<R extends ControlRequest>(
  socket: string,
  request: R,
  timeoutMs = 30_000,
): Promise<ControlAnswers[R["command"]]> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: socket });
  } catch (e) {
    throw new UnreachableError(socket, e);
  }
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    await conn.write(encoder.encode(JSON.stringify(request) + "\n"));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    for (;;) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch (e) {
        throw new UnreachableError(socket, e);
      }
      if (n === null) break;
      chunks.push(buf.slice(0, n));
      if (buf[n - 1] === 0x0a) break;
    }
    const text = decoder.decode(concat(chunks)).trim();
    if (text === "") {
      throw new UnreachableError(socket, new Error(`no answer within ${timeoutMs} ms`));
    }
    const response = parseResponse<R["command"]>(socket, text);
    if (!response.ok) throw new Error(response.error);
    return response.result;
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}

/**
 * The envelope of an answer line, checked; its `result` is trusted to be what
 * the protocol says the command answers (the agent built it from the same types).
 */
function parseResponse<C extends ControlRequest["command"]>(
  socket: string,
  text: string,
): ControlResponse<C> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (typeof value === "object" && value !== null && "ok" in value) {
    if (value.ok === true && "result" in value) return value as ControlResponse<C>;
    if (value.ok === false) {
      const error = "error" in value && typeof value.error === "string" && value.error !== ""
        ? value.error
        : `agent: the agent at ${socket} refused the request without saying why`;
      return { ok: false, error };
    }
  }
  const shown = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  throw new Error(
    `agent: the answer from ${socket} is not a control response ({"ok": …}): ${shown}; is something other than the agent listening there?`,
  );
}
