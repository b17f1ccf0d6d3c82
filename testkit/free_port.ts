/**
 * Ephemeral loopback port allocation for tests.
 *
 * @module
 */

/**
 * Returns a TCP port on 127.0.0.1 that was free a moment ago: binds port 0,
 * reads the port the kernel chose, and closes the listener again.
 *
 * There is an unavoidable window between closing and the caller binding the
 * port; the kernel hands out ephemeral ports round-robin, so reuse within a
 * test run is very unlikely.
 */
export function freePort(): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
  try {
    return Promise.resolve(listener.addr.port);
  } finally {
    listener.close();
  }
}
