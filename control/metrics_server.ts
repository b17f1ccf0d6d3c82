/**
 * The Prometheus endpoint: `GET /metrics` on `control.metrics`.
 *
 * @module
 */

import type { Address } from "../config/mod.ts";
import { errorText } from "../ground/mod.ts";

/**
 * Serves `render()` at `/metrics` on `address`; 404 elsewhere.
 * Throws, naming the address and the fix, when it cannot listen.
 *
 * @example
 * ```ts
 * import { serveMetrics } from "./metrics_server.ts";
 *
 * const address = { hostname: "127.0.0.1", port: 9514, text: "127.0.0.1:9514" };
 * const server = serveMetrics(address, () => "syslog_agent_up 1\n");
 * await server.shutdown();
 * ```
 */
export function serveMetrics(address: Address, render: () => string): Deno.HttpServer {
  const { hostname, port } = address;
  try {
    return Deno.serve({ hostname, port, onListen: () => {} }, (req) => {
      if (new URL(req.url).pathname !== "/metrics") {
        return new Response("see /metrics\n", { status: 404 });
      }
      return new Response(render(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    });
  } catch (e) {
    throw new Error(
      `control.metrics ${address.text}: cannot listen: ${
        errorText(e)
      }; free the port, change control.metrics, or set it to "" to turn metrics off`,
    );
  }
}
