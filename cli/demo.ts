/**
 * `agent demo`: the command entry; the replay itself is in demo/.
 *
 * @module
 */

import { demo as replay } from "../demo/mod.ts";

/**
 * Replays the incident the agent exists for, in about 20 seconds, with real
 * processes in a temp dir (see `demo/demo.ts`). Resolves to the exit code: 0
 * when nothing is missing, 1 when something is (or rsyslogd is not
 * installed), 130/143 when interrupted by SIGINT/SIGTERM.
 */
export function demo(): Promise<number> {
  return replay();
}
