/**
 * Connecting to a collector over TLS (RFC 5425).
 *
 * @module
 */

import type { TlsCollectorConfig } from "../config/mod.ts";
import { closeQuietly, errorText } from "../ground/mod.ts";

/**
 * What the process's root store holds, fixed by the first TLS connection
 * (Deno builds it once, from `DENO_TLS_CA_STORE`, when it is first needed).
 */
let rootStore: "none" | "public" | undefined;

/**
 * Connects to `cfg.address` and completes a TLS handshake before resolving, so
 * that a certificate problem fails the connect (and shows in the collector's
 * `lastError`) instead of surfacing on a later write; there is never a
 * fallback to plain text. With `cfg.ca` the collector's certificate must chain
 * to that CA, the only trust anchor: before the process's first TLS
 * connection `DENO_TLS_CA_STORE` is set to the empty list, so Deno's root
 * store holds no public (or system) roots and `caCerts` is all it trusts.
 * Without `cfg.ca`, or with `cfg.publicRoots`, the root store is Deno's usual
 * one (Mozilla's roots, or what `DENO_TLS_CA_STORE` names). The store cannot
 * change after the first connection: a collector that needs the other kind (a
 * reload) is refused until the agent restarts. The certificate must be valid
 * for `cfg.serverName` (else the address's host). With `cfg.cert` and
 * `cfg.key` the agent presents a client certificate; the name checked is then
 * the address's host (Deno offers client certificates only on a connection it
 * opens itself), so a different `serverName` is refused (the config parser
 * refuses it too).
 *
 * @throws {Error} naming the collector, the problem and the key to fix, such as
 *   `TLS handshake with collector 127.0.0.1:6514 (server name "logs") failed:
 *   invalid peer certificate: UnknownIssuer; …`.
 */
export async function dialTls(cfg: TlsCollectorConfig): Promise<Deno.TlsConn> {
  const { hostname, port } = cfg.address;
  const name = cfg.serverName ?? hostname;
  const what = `collector ${cfg.address.text}`;
  const caCerts = cfg.ca === undefined ? undefined : [await readPem(cfg.ca, "ca", what)];
  const wanted = caCerts !== undefined && !cfg.publicRoots ? "none" : "public";
  if (rootStore === undefined) {
    if (wanted === "none") Deno.env.set("DENO_TLS_CA_STORE", "");
    rootStore = wanted;
  } else if (rootStore !== wanted) {
    throw new Error(
      `${what}: ${
        wanted === "none"
          ? `trusts only its ca "${cfg.ca}", but this agent's TLS root store holds the public roots`
          : "needs the public roots, but this agent's TLS root store holds none (every collector had a ca)"
      }: it was fixed at the agent's first TLS connection; restart the agent to apply this config`,
    );
  }
  const withCa = caCerts === undefined ? {} : { caCerts };
  let conn: Deno.TlsConn;
  if (cfg.cert !== undefined || cfg.key !== undefined) {
    if (name !== hostname) {
      throw new Error(
        `${what}: serverName "${name}" cannot be combined with a client certificate (cert/key); put "${name}" in the address instead ("${name}:${port}") or drop serverName`,
      );
    }
    const cert = await readPem(cfg.cert, "cert", what);
    const key = await readPem(cfg.key, "key", what);
    conn = await Deno.connectTls({ hostname, port, ...withCa, cert, key });
  } else {
    const tcp = await Deno.connect({ hostname, port, transport: "tcp" });
    try {
      conn = await Deno.startTls(tcp, { hostname: name, ...withCa });
    } catch (e) {
      tcp.close();
      throw e;
    }
  }
  try {
    await conn.handshake();
  } catch (e) {
    closeQuietly(conn);
    const why = errorText(e);
    throw new Error(
      `TLS handshake with ${what} (server name "${name}") failed: ${why}; the collector's certificate must be issued for "${name}" (serverName, else the address's host) by the CA in ${
        cfg.ca === undefined
          ? "Deno's root store"
          : `"${cfg.ca}"${cfg.publicRoots ? " or a public root" : ", the only one trusted"}`
      } (ca)`,
    );
  }
  return conn;
}

async function readPem(path: string | undefined, key: string, what: string): Promise<string> {
  if (path === undefined) {
    throw new Error(
      `${what}: "${key}" is not set; a client certificate needs both "cert" and "key"`,
    );
  }
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(
      `${what}: cannot read the ${key} file "${path}": ${
        errorText(e)
      }; fix the collector's "${key}" path`,
    );
  }
}
