/**
 * The minimal Deno relay: the floor of what this runtime spends to move the
 * bytes. It accepts TCP connections and copies what it reads to one
 * connection to the collector, unchanged: no framing, no parsing, no spool,
 * no timers. The steady-state benchmark compares the agent against it.
 *
 * Run directly:
 * `deno run --allow-net=127.0.0.1 bench/min_relay.ts --port P --collector-port C`
 *
 * @module
 */

import { parseArgs } from "node:util";

/**
 * Listens on 127.0.0.1:`port` and relays every connection's bytes to
 * 127.0.0.1:`collectorPort` (one shared outgoing connection, each read written
 * whole before the next read). Resolves when the listener is closed.
 */
export async function runMinRelay(port: number, collectorPort: number): Promise<void> {
  const out = await Deno.connect({ hostname: "127.0.0.1", port: collectorPort });
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  for await (const conn of listener) {
    (async () => {
      const buf = new Uint8Array(64 * 1024);
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        let off = 0;
        while (off < n) off += await out.write(buf.subarray(off, n));
      }
    })().catch((err) => console.error(`min_relay: ${err}`)).finally(() => conn.close());
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { port: { type: "string" }, "collector-port": { type: "string" } },
  });
  const port = Number(values.port);
  const collectorPort = Number(values["collector-port"]);
  if (!Number.isInteger(port) || !Number.isInteger(collectorPort)) {
    console.error(
      `min_relay.ts: --port and --collector-port must be integers, got ${values.port} and ${
        values["collector-port"]
      }`,
    );
    Deno.exit(2);
  }
  await runMinRelay(port, collectorPort);
}
