/**
 * `agent rotate`: logrotate's postrotate hook.
 *
 * @module
 */

import { controlRequest, UnreachableError } from "../control/mod.ts";
import type { RotateResult } from "../watchdog/mod.ts";
import { errorText } from "../ground/mod.ts";

/** A rotate may have to wait for a HUP, a kill deadline and a restart: give it this long. */
const ROTATE_TIMEOUT_MS = 60_000;

/**
 * Asks the agent at `socket` to HUP rsyslogd and prove it survived. Resolves
 * to 0 when rsyslogd is healthy afterwards (also after a restart, which is
 * reported), 1 with the agent's reason when it is not. Throws
 * {@linkcode UnreachableError} (exit 3) when the agent cannot be reached.
 */
export async function rotateCommand(
  socket: string,
  out: (line: string) => void = console.log,
  err: (line: string) => void = console.error,
): Promise<number> {
  let answer: RotateResult;
  try {
    answer = await controlRequest(socket, { command: "rotate" }, ROTATE_TIMEOUT_MS);
  } catch (e) {
    if (e instanceof UnreachableError) throw e;
    err(errorText(e));
    return 1;
  }
  if (answer.restarted) err(`agent: rotate: ${answer.message}`);
  else out(`agent: rotate: ${answer.message}`);
  return 0;
}
