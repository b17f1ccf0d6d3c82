/**
 * The demo's closing report: what was sent and delivered, what the
 * application waited, what the agent did.
 *
 * @module
 */

import type { Status } from "../control/mod.ts";
import type { SeqTally, UnixDgramSender } from "../testkit/mod.ts";
import { fmt, type Timeline } from "./_timeline.ts";

/** What the report says, as the run saw it. */
export interface ReportFigures {
  /** Messages the application sent. */
  sent: number;
  /** How many of them the collector does not have. */
  missing: number;
  /** The agent's last status, if there was one. */
  status: Status | undefined;
  /** The application that logged. */
  app: UnixDgramSender;
  /** What the collector received. */
  tally: SeqTally;
  /** Messages a second the application was to log. */
  rate: number;
  /** When the application started (`performance.now()`). */
  appFrom: number;
  /** When the collector was killed. */
  outageFrom: number;
  /** When everything sent before the reconnect was at the collector (0: not yet). */
  outageTo: number;
  /** How long the spool held messages, in all. */
  spooledMs: number;
  /** The most messages it held. */
  spoolPeak: number;
  /** How long the last drain took (0: none finished). */
  lastDrainMs: number;
  /** The rotation's milliseconds after the application's start: the baseline ends there. */
  baselineMs: number;
  /** What went wrong on the way. */
  problems: string[];
  /** The work dir, kept when the demo failed. */
  dir: string;
}

/** The report's lines, each ending in a newline; `timeline` dates the worst send. */
export function reportText(f: ReportFigures, timeline: Timeline): string {
  const { app, missing, problems, sent } = f;
  const t = f.tally;
  const r = f.status?.rsyslogd;
  const baseline = app.worstSendBetween(f.appFrom, f.appFrom + f.baselineMs);
  const outageWorst = app.worstSendBetween(f.outageFrom, f.outageTo || performance.now());
  const lines = [
    "",
    "report",
    `  sent:        ${fmt(sent)} messages (${fmt(f.rate)}/s for ${
      app.seconds.toFixed(1)
    } s), by the application through rsyslogd and the agent`,
    `  delivered:   ${fmt(t.unique > sent ? sent : t.unique)} at the collector`,
    `  duplicates:  ${fmt(t.duplicates)}${
      t.duplicates > 0
        ? " (resent from the agent's replay window after the collector's crash: at-least-once)"
        : ""
    }`,
    `  missing:     ${fmt(missing)}`,
    `  application: worst wait in one send(): ${app.worstSendMs.toFixed(1)} ms (at ${
      timeline.at(app.worstSendAt)
    }); before anything failed: ${baseline.toFixed(1)} ms; while the collector was down: ${
      outageWorst.toFixed(1)
    } ms`,
    ...(app.worstSendMs > 50
      ? [
        `               (load average ${loadAverage()} on ${navigator.hardwareConcurrency} CPUs: waiting for a CPU counts too)`,
      ]
      : []),
    `               ${
      fmt(app.refused)
    } sends refused while rsyslogd restarted (socket gone; retried, a message held back at most ${
      (app.worstHeldMs / 1000).toFixed(2)
    } s)`,
    `  rsyslogd:    ${r?.restarts ?? "?"} restart(s) by the agent${
      r && r.lastExit !== "" ? ` (last exit: ${r.lastExit})` : ""
    }`,
    `  spooled:     ${(f.spooledMs / 1000).toFixed(1)} s, peak ${fmt(f.spoolPeak)} messages${
      f.lastDrainMs > 0 ? `; drained in ${(f.lastDrainMs / 1000).toFixed(1)} s` : ""
    }; dropped ${fmt(f.status?.counters.dropped ?? 0)}`,
  ];
  for (const p of problems) lines.push(`  problem:     ${p}`);
  lines.push(
    missing === 0 && problems.length === 0
      ? `result: nothing lost; rsyslogd was brought back after the HUP killed it; ${
        outageWorst < 50
          ? "the application never waited on the collector"
          : `the application's longest send() while the collector was down took ${
            outageWorst.toFixed(0)
          } ms`
      }`
      : `result: FAILED: ${missing > 0 ? `${fmt(missing)} message(s) missing` : ""}${
        missing > 0 && problems.length > 0 ? "; " : ""
      }${problems.join("; ")}; logs are kept in ${f.dir}`,
  );
  return lines.join("\n") + "\n";
}

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ")[0] ?? "?";
  } catch {
    return "?";
  }
}
