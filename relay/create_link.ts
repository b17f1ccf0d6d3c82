/**
 * What a collector's protocol decides, in one place: how its connection is
 * dialed, which link speaks it, and whether the data of what was written must
 * stay in hand.
 *
 * @module
 */

import type { Clock } from "../ground/mod.ts";
import type { CollectorConfig } from "../config/mod.ts";
import type { Link, LinkEvents } from "./link.ts";
import type { EvidenceSource } from "./tcp_evidence.ts";
import { RelpLink } from "./relp_link.ts";
import { StreamLink } from "./stream_link.ts";
import { dialTls } from "./tls_dial.ts";

/**
 * The link for `cfg.protocol` over `conn`: {@linkcode RelpLink} for `relp`,
 * {@linkcode StreamLink} (RFC 6587/5425 framing with a replay window) for `tcp`
 * and `tls`.
 */
export function createLink(
  conn: Deno.Conn,
  cfg: CollectorConfig,
  events: LinkEvents,
  clock: Clock,
  evidence?: (conn: Deno.Conn) => EvidenceSource | undefined,
): Link {
  return cfg.protocol === "relp" ? new RelpLink(conn, cfg, events, clock) : new StreamLink(
    conn,
    cfg,
    events,
    clock,
    cfg.protocol === "tcp" ? evidence?.(conn) : undefined,
  );
}

/** The default dialer: TLS with the handshake done for protocol `tls`, plain TCP otherwise. */
export function dialCollector(cfg: CollectorConfig): Promise<Deno.Conn> {
  if (cfg.protocol === "tls") return dialTls(cfg);
  const { hostname, port } = cfg.address;
  return Deno.connect({ hostname, port, transport: "tcp" });
}

/**
 * Whether the collector may refuse a single message (RELP: an answer other than
 * `200`): the forwarder then keeps the data of each batch it wrote until it is
 * confirmed, to set a refused message aside as a dead letter. Otherwise a link
 * needs nothing of a batch once written (a resend is a give-back to the
 * source), and the source may keep the data instead (`BatchSource.lighten`).
 */
export function refusesMessages(cfg: CollectorConfig): boolean {
  return cfg.protocol === "relp";
}
