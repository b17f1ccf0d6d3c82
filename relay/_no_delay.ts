/**
 * Nagle's algorithm off, for request/response protocols.
 *
 * @module
 */

/**
 * Turns off Nagle's algorithm on a TCP connection (nothing for other kinds).
 * RELP answers and windows of commands are small writes: with Nagle on, each
 * can wait for the peer's delayed ACK (up to 200 ms) and a full window stalls.
 */
export function noDelay(conn: Deno.Conn): void {
  try {
    (conn as Partial<Deno.TcpConn>).setNoDelay?.(true);
  } catch {
    // Already closed.
  }
}
