/**
 * Prometheus text exposition of the agent's status.
 *
 * @module
 */

import type { Status } from "./status.ts";

type Kind = "counter" | "gauge";

/** Escapes a label value for the text format. */
function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/**
 * Renders `status`, and the `relay` counters it does not carry, in the Prometheus text format (version 0.0.4): every
 * family with `# HELP` and `# TYPE`, counters ending in `_total`, names prefixed
 * `syslog_agent_`.
 *
 * @example
 * ```ts
 * import { renderMetrics } from "./metrics.ts";
 * import { Agent, Logger, parseConfig } from "../mod.ts";
 *
 * const config = parseConfig("{}", "inline");
 * const agent = await Agent.start(config, new Logger(config.log));
 * const body = renderMetrics(agent.status(), { notTaken: 0, deadLettered: 0 });
 * ```
 */
export function renderMetrics(
  status: Status,
  relay: { notTaken: number; deadLettered: number },
): string {
  const out: string[] = [];
  const family = (
    name: string,
    kind: Kind,
    help: string,
    samples: [labels: string, value: number][],
  ) => {
    out.push(`# HELP syslog_agent_${name} ${help}`, `# TYPE syslog_agent_${name} ${kind}`);
    for (const [labels, value] of samples) out.push(`syslog_agent_${name}${labels} ${value}`);
  };
  const c = status.counters;
  family("build_info", "gauge", "Version of the running agent.", [
    [`{version="${label(status.agent.version)}",deno="${label(Deno.version.deno)}"}`, 1],
  ]);
  family("uptime_seconds", "gauge", "Seconds since the agent started.", [[
    "",
    status.agent.uptimeSeconds,
  ]]);
  family("received_messages_total", "counter", "Messages accepted from inputs.", [[
    "",
    c.received,
  ]]);
  family("forwarded_messages_total", "counter", "Messages written to a collector.", [[
    "",
    c.forwarded,
  ]]);
  family("dropped_messages_total", "counter", "Messages dropped because the spool was full.", [[
    "",
    c.dropped,
  ]]);
  family("malformed_frames_total", "counter", "Frames with a framing error.", [["", c.malformed]]);
  family("truncated_messages_total", "counter", "Messages cut to the maximum size.", [[
    "",
    c.truncated,
  ]]);
  family("canaries_total", "counter", "Watchdog canaries that came back and were consumed.", [[
    "",
    c.canaries,
  ]]);
  family(
    "relp_not_acknowledged_total",
    "counter",
    "RELP transactions left unanswered because the spool could not write them (the client resends).",
    [["", relay.notTaken]],
  );
  family(
    "dead_lettered_messages_total",
    "counter",
    "Messages a collector refused 3 times, set aside in dead-letter.log in the spool directory.",
    [["", relay.deadLettered]],
  );
  family("spool_messages", "gauge", "Messages in the spool not yet forwarded.", [[
    "",
    status.spool.messages,
  ]]);
  family("spool_bytes", "gauge", "Bytes of the spool's files.", [["", status.spool.bytes]]);
  family("spool_oldest_age_seconds", "gauge", "Age of the oldest spooled message.", [[
    "",
    status.spool.oldestAgeSeconds,
  ]]);
  family(
    "durability_lag_messages",
    "gauge",
    "Messages received and not yet durable in the spool (not written, or not fdatasync'ed under sync always): what a kill -9 can take of inputs that do not acknowledge.",
    [["", status.spool.lag.messages]],
  );
  family("durability_lag_bytes", "gauge", "Bytes of the messages not yet durable.", [[
    "",
    status.spool.lag.bytes,
  ]]);
  family(
    "durability_lag_seconds",
    "gauge",
    "Age of the oldest message not yet durable (0 when none).",
    [["", status.spool.lag.ageSeconds]],
  );
  family(
    "expired_messages_total",
    "counter",
    "Messages dropped from the spool's head unsent, older than spool.maxAge.",
    [["", status.spool.expired]],
  );
  family("spool_corrupt_records_total", "counter", "Damaged spool records skipped.", [[
    "",
    status.spool.corrupt,
  ]]);
  family(
    "collector_up",
    "gauge",
    "1 when the collector is connected and taking writes.",
    status.collectors.map((col) => [
      `{address="${label(col.address)}",protocol="${label(col.protocol)}"}`,
      col.state === "up" ? 1 : 0,
    ]),
  );
  const members = status.collectors.flatMap((col) =>
    (col.members ?? []).map((m) => ({
      labels: `{pool="${label(col.address)}",member="${label(m.address)}"}`,
      m,
    }))
  );
  if (members.length > 0) {
    family(
      "pool_member_up",
      "gauge",
      "1 when the pool member is connected and taking writes.",
      members.map(({ labels, m }) => [labels, m.state === "up" ? 1 : 0]),
    );
    family(
      "pool_member_forwarded_messages_total",
      "counter",
      "Messages first written through the pool member since its pool connected.",
      members.map(({ labels, m }) => [labels, m.forwarded]),
    );
    family(
      "pool_member_share",
      "gauge",
      "The member's part of its pool's forwarded messages, from 0 to 1.",
      members.map(({ labels, m }) => [labels, m.share]),
    );
    family(
      "pool_member_unconfirmed_bytes",
      "gauge",
      "Bytes written through the member and not yet confirmed (resent elsewhere if it fails).",
      members.map(({ labels, m }) => [labels, m.unconfirmedBytes]),
    );
  }
  const r = status.rsyslogd;
  family("rsyslogd_up", "gauge", "1 when the managed rsyslogd runs (unmanaged: absent).", [
    ...(r.mode === "off" ? [] : [["", r.state === "running" ? 1 : 0] as [string, number]]),
  ]);
  family("rsyslogd_restarts_total", "counter", "Restarts of rsyslogd by the agent.", [[
    "",
    r.restarts,
  ]]);
  if (r.mode !== "off") {
    family("rsyslogd_probe_ok", "gauge", "1 when the last canary came back in time.", [[
      "",
      r.probe.ok ? 1 : 0,
    ]]);
    family("rsyslogd_probe_latency_seconds", "gauge", "Round trip of the last canary.", [[
      "",
      r.probe.latencyMs / 1000,
    ]]);
  }
  const state = status.state;
  family(
    "state",
    "gauge",
    "1 for the agent's overall state.",
    (["ok", "degraded", "critical"] as const).map((s) => [`{state="${s}"}`, state === s ? 1 : 0]),
  );
  return out.join("\n") + "\n";
}
