/**
 * `agent reload`.
 *
 * @module
 */

import { controlRequest } from "../control/mod.ts";

/** Asks the agent at `socket` to re-read its config; prints its answer. Exit 0. */
export async function reloadCommand(socket: string): Promise<number> {
  console.log(await controlRequest(socket, { command: "reload" }));
  return 0;
}
