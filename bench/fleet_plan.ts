/**
 * The fleet simulation's scenarios (`deno task fleet`): what happens to the
 * collector tier and when, in seconds after the load started, at full length
 * or short (the test's variant).
 *
 * @module
 */

/** The scenarios, by number (1-based: `--only 1,2`). */
export const SCENARIO_KEYS = ["steady", "one-down", "two-down", "tier-down", "dns-add"] as const;
/** A scenario's name. */
export type ScenarioKey = typeof SCENARIO_KEYS[number];

/** Something done to the collector tier during the load. */
export interface FleetEvent {
  /** Seconds after the load started. */
  atS: number;
  /** SIGKILL collectors, start them again, or add the third address to the hosts file. */
  action: "kill" | "restore" | "dns-add";
  /** The collectors concerned, 0-based (c1 is 0). */
  collectors: number[];
}

/** How long each part of the scenarios lasts, in seconds. */
export interface FleetTiming {
  /** Scenario 1's whole load. */
  steadyS: number;
  /** Load before the first event in scenarios 2-5. */
  beforeS: number;
  /** How long one or two collectors stay down (scenarios 2, 3). */
  downS: number;
  /** How long the whole tier stays down (scenario 4). */
  tierDownS: number;
  /** Load after the restore (scenarios 2-4). */
  afterS: number;
  /** Load after the third address is added (scenario 5). */
  dnsAfterS: number;
  /** First seconds left out of "steady" windows (agents connecting, V8 warming). */
  settleS: number;
}

/** The full run's timing: 30 agents, five scenarios, within about 10 minutes. */
export const FULL_TIMING: FleetTiming = {
  steadyS: 25,
  beforeS: 15,
  downS: 20,
  tierDownS: 30,
  afterS: 25,
  dnsAfterS: 35,
  settleS: 5,
};

/** The test's timing: a few seconds per phase. */
export const SHORT_TIMING: FleetTiming = {
  steadyS: 8,
  beforeS: 5,
  downS: 6,
  tierDownS: 8,
  afterS: 7,
  dnsAfterS: 14,
  settleS: 2,
};

/** One scenario as it will run. */
export interface ScenarioPlan {
  /** 1-5. */
  number: number;
  /** Its name. */
  key: ScenarioKey;
  /** Its heading. */
  title: string;
  /** Seconds of load (the sender stops then; the drain follows). */
  loadS: number;
  /** What happens, in time order. */
  events: FleetEvent[];
  /** The hosts file names only c1 and c2 as `collectors.fleet.test` at the start. */
  startWithTwo: boolean;
  /** Seconds [from, to) of the steady window before any event. */
  before: [number, number];
  /** Seconds [from, to) of the window at the end of the load, after the last event. */
  after: [number, number] | undefined;
}

/** The plan of scenario `n` (1-5) with `t`'s timing. */
export function scenarioPlan(n: number, t: FleetTiming): ScenarioPlan {
  const key = SCENARIO_KEYS[n - 1];
  if (key === undefined) throw new RangeError(`scenario: expected 1..5, got ${n}`);
  const b = t.beforeS;
  const tail = (loadS: number, lastS: number): [number, number] => [
    Math.max(lastS, loadS - Math.max(3, Math.floor((loadS - lastS) / 2))),
    loadS,
  ];
  switch (key) {
    case "steady":
      return {
        number: n,
        key,
        title: `Steady state (${t.steadyS} s)`,
        loadS: t.steadyS,
        events: [],
        startWithTwo: false,
        before: [t.settleS, t.steadyS],
        after: undefined,
      };
    case "one-down":
    case "two-down": {
      const which = key === "one-down" ? [0] : [0, 1];
      const loadS = b + t.downS + t.afterS;
      return {
        number: n,
        key,
        title: key === "one-down"
          ? `One collector SIGKILLed, restored after ${t.downS} s`
          : `Two collectors SIGKILLed at once, restored after ${t.downS} s`,
        loadS,
        events: [
          { atS: b, action: "kill", collectors: which },
          { atS: b + t.downS, action: "restore", collectors: which },
        ],
        startWithTwo: false,
        before: [t.settleS, b],
        after: tail(loadS, b + t.downS),
      };
    }
    case "tier-down": {
      const loadS = b + t.tierDownS + t.afterS;
      return {
        number: n,
        key,
        title: `The whole tier down for ${t.tierDownS} s, then back`,
        loadS,
        events: [
          { atS: b, action: "kill", collectors: [0, 1, 2] },
          { atS: b + t.tierDownS, action: "restore", collectors: [0, 1, 2] },
        ],
        startWithTwo: false,
        before: [t.settleS, b],
        after: tail(loadS, b + t.tierDownS),
      };
    }
    case "dns-add": {
      const loadS = b + t.dnsAfterS;
      return {
        number: n,
        key,
        title: "A member added by DNS (hosts file: two addresses, then three)",
        loadS,
        events: [{ atS: b, action: "dns-add", collectors: [2] }],
        startWithTwo: true,
        before: [t.settleS, b],
        after: tail(loadS, b),
      };
    }
  }
}

/** The collectors' names and addresses in the namespace (c1 is 127.0.0.2, …). */
export const COLLECTOR_ADDRESSES = ["127.0.0.2", "127.0.0.3", "127.0.0.4"] as const;
/** The pool's name: every collector's address (two at the start of scenario 5). */
export const POOL_NAME = "collectors.fleet.test";
/** The collectors' port. */
export const COLLECTOR_PORT = 514;

/**
 * The namespace's hosts file: `collectors.fleet.test` on the first `poolSize`
 * collector addresses, one line each, and `c1.fleet.test` … `c3.fleet.test`.
 *
 * @example
 * ```ts
 * import { fleetHosts } from "./fleet_plan.ts";
 *
 * fleetHosts(2).split("\n")[1]; // "127.0.0.2 collectors.fleet.test"
 * ```
 */
export function fleetHosts(poolSize: number): string {
  const lines = ["127.0.0.1 localhost"];
  COLLECTOR_ADDRESSES.forEach((a, i) => {
    if (i < poolSize) lines.push(`${a} ${POOL_NAME}`);
  });
  COLLECTOR_ADDRESSES.forEach((a, i) => lines.push(`${a} c${i + 1}.fleet.test`));
  return lines.join("\n") + "\n";
}

/** The hosts file line that scenario 5 appends: the third collector joins the pool's name. */
export function addedHostsLine(): string {
  return `${COLLECTOR_ADDRESSES[2]} ${POOL_NAME}\n`;
}

/** The tag (APP-NAME) of agent `i` (0-based) of `n`: `a01`, `a02`, … (wider for 100+). */
export function agentTag(i: number, n: number): string {
  return `a${String(i + 1).padStart(Math.max(2, String(n).length), "0")}`;
}
