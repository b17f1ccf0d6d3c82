/**
 * The public face of `demo/`: `agent demo`, the incident the agent exists
 * for, replayed with real processes on top of testkit/.
 *
 * @module
 */

export { demo } from "./demo.ts";
export type { DemoOptions } from "./demo.ts";
