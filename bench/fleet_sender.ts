/**
 * The fleet's load, one process for every agent (run inside the fleet's
 * network namespace, where the agents' inputs are): for each agent one TCP
 * connection to 127.0.0.1:PORT and `rate` numbered messages a second
 * (`sendSeq`, octet-counted, 256 bytes by default), tagged with the agent's
 * own tag so that its sequence can be checked at the collectors. When every
 * connection is open it writes `{"startedAtMs": …}` to `OUT.start`; at the
 * end the result ({@linkcode FleetSenderResult}) to `OUT`.
 *
 * ```
 * deno run --allow-all bench/fleet_sender.ts --ports 20001,20002 --tags a01,a02 \
 *   --rate 200 --seconds 20 [--size 256] --out result.json
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { sendSeq } from "../testkit/mod.ts";

/** What the sender did. */
export interface FleetSenderResult {
  /** Wall-clock ms (epoch) when the load started. */
  startedAtMs: number;
  /** Wall-clock ms (epoch) when the last message was written. */
  finishedAtMs: number;
  /** Messages written to each agent, in `--ports` order. */
  sent: number[];
  /** The longest single write wait over all connections, ms (an agent never blocks a sender). */
  maxWriteWaitMs: number;
  /** Failed connections, one line each. */
  errors: string[];
}

/** This file, for the command line. */
export const FLEET_SENDER: string = fileURLToPath(import.meta.url);

/** The sender's command line (`deno run --allow-all bench/fleet_sender.ts …`). */
export function fleetSenderArgv(o: {
  ports: number[];
  tags: string[];
  rate: number;
  seconds: number;
  size: number;
  out: string;
}): string[] {
  return [
    Deno.execPath(),
    "run",
    "--allow-all",
    FLEET_SENDER,
    "--ports",
    o.ports.join(","),
    "--tags",
    o.tags.join(","),
    "--rate",
    String(o.rate),
    "--seconds",
    String(o.seconds),
    "--size",
    String(o.size),
    "--out",
    o.out,
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      ports: { type: "string" },
      tags: { type: "string" },
      rate: { type: "string" },
      seconds: { type: "string" },
      size: { type: "string", default: "256" },
      out: { type: "string" },
    },
  });
  const ports = (values.ports ?? "").split(",").filter((s) => s !== "").map(Number);
  const tags = (values.tags ?? "").split(",").filter((s) => s !== "");
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const size = Number(values.size);
  const out = values.out;
  if (
    ports.length === 0 || ports.length !== tags.length || !(rate > 0) || !(seconds > 0) ||
    !(size > 0) || out === undefined
  ) {
    console.error("fleet_sender: --ports, --tags (as many), --rate, --seconds and --out needed");
    Deno.exit(2);
  }
  const count = Math.round(rate * seconds);
  // about 20 ms worth per write: 50 writes a second per agent
  const perWrite = Math.max(1, Math.round(rate / 50));
  const startedAtMs = Date.now();
  await Deno.writeTextFile(`${out}.start`, JSON.stringify({ startedAtMs }) + "\n");
  const errors: string[] = [];
  const runs = await Promise.all(ports.map(async (port, i) => {
    try {
      return await sendSeq({
        port,
        count,
        size,
        framing: "octet-counted",
        ratePerSec: rate,
        tag: tags[i],
        perWrite,
      });
    } catch (err) {
      errors.push(`${tags[i]} (port ${port}): ${err instanceof Error ? err.message : err}`);
      return {
        sent: Number(/after (\d+) messages/.exec(String(err))?.[1] ?? 0),
        maxWriteWaitMs: 0,
      };
    }
  }));
  const result: FleetSenderResult = {
    startedAtMs,
    finishedAtMs: Date.now(),
    sent: runs.map((r) => r.sent),
    maxWriteWaitMs: Math.max(...runs.map((r) => r.maxWriteWaitMs)),
    errors,
  };
  await Deno.writeTextFile(`${out}.tmp`, JSON.stringify(result) + "\n");
  await Deno.rename(`${out}.tmp`, out);
}

if (import.meta.main) await main();
