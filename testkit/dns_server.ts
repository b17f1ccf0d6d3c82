/**
 * A tiny DNS server for tests: answers SRV questions from a table, over UDP,
 * and NXDOMAIN for everything else. Run as a script inside a network namespace
 * (its `/etc/resolv.conf` pointing at it) so that the agent's SRV lookups get
 * the test's answers:
 *
 * ```sh
 * deno run --allow-net testkit/dns_server.ts 127.0.0.53 53 '{"_syslog._tcp.t": [{"target": "c1.t", "port": 514, "priority": 10, "weight": 1}]}'
 * ```
 *
 * @module
 */

import { createSocket } from "node:dgram";
import type { SrvTarget } from "../relay/mod.ts";

const SRV = 33;

/** The question's name (dotted, no trailing dot), its type, and where the question ends. */
function question(msg: Uint8Array): { name: string; type: number; end: number } | undefined {
  const labels: string[] = [];
  let p = 12;
  while (p < msg.length && msg[p] !== 0) {
    const len = msg[p]!;
    if (len > 63 || p + 1 + len > msg.length) return undefined;
    labels.push(new TextDecoder().decode(msg.subarray(p + 1, p + 1 + len)));
    p += 1 + len;
  }
  if (p + 5 > msg.length) return undefined;
  const type = (msg[p + 1]! << 8) | msg[p + 2]!;
  return { name: labels.join(".").toLowerCase(), type, end: p + 5 };
}

/** `name` as DNS labels. */
function encodeName(name: string): number[] {
  const out: number[] = [];
  for (const label of name.replace(/\.$/, "").split(".")) {
    const bytes = new TextEncoder().encode(label);
    out.push(bytes.length, ...bytes);
  }
  out.push(0);
  return out;
}

/**
 * The answer to the DNS query `msg` from `table` (SRV name → targets):
 * its SRV records, or NXDOMAIN.
 */
export function answer(msg: Uint8Array, table: Record<string, SrvTarget[]>): Uint8Array {
  const q = question(msg);
  const records = q !== undefined && q.type === SRV ? table[q.name] : undefined;
  const header = [
    msg[0]!,
    msg[1]!,
    0x81, // response, recursion desired
    records === undefined ? 0x83 : 0x80, // recursion available; NXDOMAIN or no error
    0,
    q === undefined ? 0 : 1,
    0,
    records?.length ?? 0,
    0,
    0,
    0,
    0,
  ];
  const out = [...header, ...(q === undefined ? [] : msg.subarray(12, q.end))];
  for (const r of records ?? []) {
    const target = encodeName(r.target);
    const rdata = [
      r.priority >> 8,
      r.priority & 0xff,
      r.weight >> 8,
      r.weight & 0xff,
      r.port >> 8,
      r.port & 0xff,
      ...target,
    ];
    // The name: a pointer to the question's (offset 12); type SRV, class IN, TTL 5 s.
    out.push(0xc0, 12, 0, SRV, 0, 1, 0, 0, 0, 5, rdata.length >> 8, rdata.length & 0xff);
    out.push(...rdata);
  }
  return new Uint8Array(out);
}

if (import.meta.main) {
  const [address, port, json] = Deno.args;
  if (address === undefined || port === undefined || json === undefined) {
    throw new Error("usage: dns_server.ts ADDRESS PORT TABLE_JSON");
  }
  const table = JSON.parse(json) as Record<string, SrvTarget[]>;
  const socket = createSocket("udp4");
  socket.on("message", (msg, rinfo) => {
    socket.send(answer(new Uint8Array(msg), table), rinfo.port, rinfo.address);
  });
  socket.bind(Number(port), address, () => console.log(`dns: listening on ${address}:${port}`));
}
