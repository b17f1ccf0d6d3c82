/**
 * `host:port` addresses, as used by inputs, collectors and the metrics endpoint.
 *
 * @module
 */

import { show } from "./_show.ts";

const HOST_NAME = /^[A-Za-z0-9._-]+$/;
const IPV6 = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(%[\w.-]+)?$/;

/**
 * Splits `"host:port"` or `"[ipv6]:port"` into a hostname (without brackets)
 * and a port from 1 to 65535.
 *
 * @throws {Error} naming the value and the expected form, e.g.
 *   `expected "host:port", got "logs"`.
 */
export function parseAddress(s: string): { hostname: string; port: number } {
  const colon = s.lastIndexOf(":");
  const host = colon < 0 ? "" : s.slice(0, colon);
  const portText = colon < 0 ? "" : s.slice(colon + 1);
  const bracketed = host.startsWith("[") && host.endsWith("]");
  const hostname = bracketed ? host.slice(1, -1) : host;
  if (!bracketed && hostname.includes(":")) {
    throw new Error(
      `expected "host:port" with an IPv6 host in brackets (like "[::1]:514"), got ${show(s)}`,
    );
  }
  const hostOk = bracketed ? IPV6.test(hostname) : HOST_NAME.test(hostname);
  if (!hostOk || !/^\d+$/.test(portText)) {
    throw new Error(`expected "host:port", got ${show(s)}`);
  }
  const port = Number(portText);
  if (port < 1 || port > 65535) {
    throw new Error(`expected "host:port" with a port from 1 to 65535, got ${show(s)}`);
  }
  return { hostname, port };
}
