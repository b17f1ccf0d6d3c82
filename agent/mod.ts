/**
 * The public face of `agent/`: what the other folders use of it.
 *
 * @module
 */

export { Agent } from "./agent.ts";
export { assemble } from "./assemble.ts";
export type { AssembleOptions, Input, Parts } from "./assemble.ts";
