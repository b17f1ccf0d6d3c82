/**
 * The public face of `agent/`: what the other folders use of it.
 *
 * @module
 */

export { Agent } from "./agent.ts";
