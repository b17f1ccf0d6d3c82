/**
 * What a reload changes, decided without touching anything.
 *
 * @module
 */

import type { Config, InputConfig } from "../config/mod.ts";

/** What to do with one input of the new config. */
export type InputStep =
  /** The running input `from` (an index into the old inputs) goes on; `settings`: apply these. */
  | { keep: number; settings: InputConfig | undefined }
  /** A new socket: bound before anything closes. */
  | { bind: InputConfig };

/** A reload, as steps. */
export interface ReloadPlan {
  /** One step per input of the new config, in its order. */
  inputs: InputStep[];
  /** Old inputs (indexes) that no new one takes over: drained and closed last. */
  retire: number[];
  /** The collectors changed: the forwarder is replaced (what it holds goes first). */
  collectors: boolean;
  /** The metrics address changed. */
  metrics: boolean;
  /** Sections whose changes take effect at the next restart. */
  atRestart: string[];
}

/**
 * Plans the reload from `old` to `next`. An input of the same type and address
 * (or path) keeps running, with its changed settings applied in place; other
 * inputs are bound anew. Throws, naming the key, when `next` needs what only a
 * restart can give: a `maxMessageSize` above `maxRecord`, the size the
 * buffers were made for at start.
 *
 * @example
 * ```ts
 * import { parseConfig } from "../config/mod.ts";
 * import { planReload } from "./plan_reload.ts";
 * const old = parseConfig("{}", "old");
 * const next = parseConfig('{"inputs":[{"type":"tcp","address":"127.0.0.1:5514","maxConnections":10}]}', "new");
 * const plan = planReload(old, next, 65536);
 * // plan.inputs: [{ keep: 0, settings: { …maxConnections: 10 } }]; plan.retire: [1] (the UDP input)
 * ```
 */
export function planReload(old: Config, next: Config, maxRecord: number): ReloadPlan {
  for (const [i, cfg] of next.inputs.entries()) {
    if (cfg.maxMessageSize > maxRecord) {
      throw new Error(
        `inputs[${i}].maxMessageSize ${cfg.maxMessageSize} is larger than the ${maxRecord} bytes the agent sized its buffers for at start: that change needs a restart (systemctl restart syslog-agent)`,
      );
    }
  }
  const unused = new Set(old.inputs.keys());
  const inputs: InputStep[] = next.inputs.map((cfg) => {
    const from = old.inputs.findIndex((c, j) => unused.has(j) && inputKey(c) === inputKey(cfg));
    if (from < 0) return { bind: cfg };
    unused.delete(from);
    const same = JSON.stringify(old.inputs[from]) === JSON.stringify(cfg);
    return { keep: from, settings: same ? undefined : cfg };
  });
  const differs = (a: unknown, b: unknown) => JSON.stringify(a) !== JSON.stringify(b);
  const atRestart: string[] = [];
  if (differs(old.spool, next.spool)) atRestart.push("spool");
  if (differs(old.rsyslogd, next.rsyslogd)) atRestart.push("rsyslogd");
  if (old.control.socket !== next.control.socket || old.control.group !== next.control.group) {
    atRestart.push("control socket");
  }
  return {
    inputs,
    retire: [...unused],
    collectors: differs(old.collectors, next.collectors),
    metrics: old.control.metrics?.text !== next.control.metrics?.text,
    atRestart,
  };
}

/** What identifies a listening input: its type and address or path. */
function inputKey(cfg: InputConfig): string {
  return `${cfg.type} ${cfg.type === "unix" ? cfg.path : cfg.address.text}`;
}
