/**
 * The link for a collector's protocol.
 *
 * @module
 */

import type { Clock } from "../ground/mod.ts";
import type { CollectorConfig } from "../config/mod.ts";
import type { Link, LinkEvents } from "./link.ts";
import type { EvidenceSource } from "./tcp_evidence.ts";
import { RelpLink } from "./relp_link.ts";
import { StreamLink } from "./stream_link.ts";

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
