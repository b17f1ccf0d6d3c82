/**
 * `agent status`: health at a glance, as JSON, or redrawn every second.
 *
 * @module
 */

import { controlRequest, type StatusAnswer, UnreachableError } from "../control/mod.ts";
import { errorText } from "../ground/mod.ts";
import { bytes, count, duration } from "./_format.ts";

/** Exit codes of `agent status` (Nagios/Icinga plugin convention). */
export const STATUS_EXIT = { ok: 0, degraded: 1, critical: 2, unreachable: 3 } as const;

/** Options of {@linkcode statusCommand}. */
export interface StatusOptions {
  socket: string;
  json: boolean;
  watch: boolean;
  /** Colour: default when stdout is a terminal. */
  color?: boolean;
  out?: (text: string) => void;
  err?: (text: string) => void;
  /** Ends `--watch` (Ctrl-C in the CLI). */
  signal?: AbortSignal;
}

const encoder = new TextEncoder();

/**
 * Prints the agent's status and resolves to the exit code: 0 ok, 1 degraded,
 * 2 critical, 3 agent not reachable. `json` prints the spec's document as is;
 * `watch` redraws the human view every second until `signal` aborts.
 */
export async function statusCommand(opts: StatusOptions): Promise<number> {
  const out = opts.out ?? ((t: string) => Deno.stdout.writeSync(encoder.encode(t)));
  const err = opts.err ?? ((t: string) => Deno.stderr.writeSync(encoder.encode(t)));
  const color = opts.color ?? Deno.stdout.isTerminal();
  for (;;) {
    let status: StatusAnswer;
    try {
      // The human view shows rates; --json prints the spec's document, without them.
      status = await controlRequest(opts.socket, { command: "status", detail: !opts.json });
    } catch (e) {
      err(`${errorText(e)}\n`);
      return e instanceof UnreachableError ? STATUS_EXIT.unreachable : STATUS_EXIT.critical;
    }
    if (opts.json) {
      out(JSON.stringify(status, null, 2) + "\n");
      return STATUS_EXIT[status.state];
    }
    const view = renderStatus(status, color);
    out(opts.watch && color ? `\x1b[H\x1b[2J${view}` : view);
    if (!opts.watch) return STATUS_EXIT[status.state];
    const stopped = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 1000);
      opts.signal?.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve(true);
      }, { once: true });
    });
    if (stopped || opts.signal?.aborted) return STATUS_EXIT[status.state];
    if (!color) out("\n");
  }
}

/** The human view: state and reasons first, then rsyslogd, collectors, spool, rates, counters. */
export function renderStatus(s: StatusAnswer, color: boolean): string {
  const paint = (code: string, text: string) => color ? `\x1b[${code}m${text}\x1b[0m` : text;
  const stateColor = { ok: "32", degraded: "33", critical: "31" }[s.state];
  const lines: string[] = [];
  lines.push(`agent: ${paint(`1;${stateColor}`, s.state.toUpperCase())}`);
  for (const r of s.reasons) lines.push(`  ${paint(stateColor, "!")} ${r}`);
  lines.push("");
  const r = s.rsyslogd;
  if (r.mode === "off") {
    lines.push(`rsyslogd    not managed`);
  } else {
    const probe = r.probe.ok ? `probe ok ${r.probe.latencyMs} ms` : "probe failing";
    const last = r.lastExit ? `, last exit ${r.lastExit}` : "";
    lines.push(
      `rsyslogd    ${r.state} (${r.mode}, pid ${r.pid}), ${r.restarts} restart(s)${last}, ${probe}`,
    );
  }
  for (const [i, c] of s.collectors.entries()) {
    const mark = c.state === "up" ? paint("32", "up") : paint("31", c.state);
    const error = c.state !== "up" && c.lastError ? ` ${c.lastError}` : "";
    lines.push(
      `${i === 0 ? "collectors" : "          "}  ${c.address} (${c.protocol}) ${mark} since ${
        c.since.slice(11, 19)
      }${error}`,
    );
    for (const m of c.members ?? []) {
      const state = m.state === "up" ? paint("32", "up") : paint("31", m.state);
      const why = m.state !== "up" && m.lastError ? ` ${m.lastError}` : "";
      const name = m.name === "" ? "" : ` (${m.name})`;
      lines.push(
        `              - ${m.address}${name} ${state}, ${count(m.forwarded)} forwarded (${
          (m.share * 100).toFixed(0)
        }%), ${bytes(m.unconfirmedBytes)} unconfirmed${why}`,
      );
    }
  }
  const now = Date.now();
  for (const [i, input] of s.inputs.entries()) {
    const state = input.listening ? paint("32", "listening") : paint("31", "not listening");
    const last = input.lastReceivedAt === ""
      ? "nothing received since start"
      : `last message ${
        duration(Math.max(0, Math.round((now - Date.parse(input.lastReceivedAt)) / 1000)))
      } ago`;
    const why = input.listening ? "" : ` (${input.problem})`;
    lines.push(`${i === 0 ? "inputs    " : "          "}  ${input.name} ${state}${why}, ${last}`);
  }
  const sp = s.spool;
  lines.push(
    `spool       ${count(sp.messages)} messages, ${
      bytes(sp.bytes)
    }, oldest ${sp.oldestAgeSeconds}s, ` +
      `dropped ${count(sp.dropped)}, expired ${count(sp.expired)}, corrupt ${count(sp.corrupt)}`,
  );
  lines.push(
    `durability  ${count(sp.lag.messages)} messages (${
      bytes(sp.lag.bytes)
    }) not yet durable, oldest ${sp.lag.ageSeconds.toFixed(3)}s`,
  );
  if (s.rates) {
    lines.push(
      `rates       ${count(s.rates.received)}/s in, ${count(s.rates.forwarded)}/s out, ${
        count(s.rates.dropped)
      }/s dropped (last minute)`,
    );
  }
  const c = s.counters;
  lines.push(
    `counters    received ${count(c.received)}, forwarded ${count(c.forwarded)}, dropped ${
      count(c.dropped)
    }, malformed ${count(c.malformed)}, truncated ${count(c.truncated)}`,
  );
  lines.push(
    `agent       ${s.agent.version}, pid ${s.agent.pid}, up ${duration(s.agent.uptimeSeconds)}`,
  );
  return lines.join("\n") + "\n";
}
