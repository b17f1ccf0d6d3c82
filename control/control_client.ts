/**
 * The client side of the control socket, for `agent status`, `rotate` and `reload`,
 * the demo and the tests.
 *
 * @module
 */

/** The agent could not be reached: not running, or the socket is not ours to use. */
export class UnreachableError extends Error {
  constructor(socket: string, cause: unknown) {
    const why =
      cause instanceof Deno.errors.NotFound || cause instanceof Deno.errors.ConnectionRefused
        ? "is the agent running? (systemctl status syslog-agent)"
        : cause instanceof Deno.errors.PermissionDenied
        ? "permission denied: run as root or as a member of the control group"
        : cause instanceof Error
        ? cause.message
        : String(cause);
    super(`agent: cannot reach the agent at ${socket}: ${why}`);
    this.name = "UnreachableError";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Sends one request to the control socket and returns the response's `result`.
 * Throws {@linkcode UnreachableError} when the socket cannot be reached, and an
 * Error with the agent's message when it answers `ok: false`.
 *
 * @example
 * ```ts
 * const status = await controlRequest("/run/syslog-agent/agent.sock", { command: "status" });
 * ```
 */
export async function controlRequest(
  socket: string,
  request: Record<string, unknown>,
  timeoutMs = 30_000,
): Promise<unknown> {
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
    const response = JSON.parse(text) as { ok: boolean; result?: unknown; error?: string };
    if (!response.ok) throw new Error(response.error ?? "request failed");
    return response.result;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
