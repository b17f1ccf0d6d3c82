/**
 * `agent demo`: the command entry; the replay itself is in demo/, loaded only
 * for this command: with testkit/ behind it, 27 of the 113 modules, which
 * `agent run` has no use for (1 MiB less anonymous memory when idle).
 *
 * @module
 */

/**
 * Replays the incident the agent exists for, in about 20 seconds, with real
 * processes in a temp dir (see `demo/demo.ts`). Resolves to the exit code: 0
 * when nothing is missing, 1 when something is (or rsyslogd is not
 * installed), 130/143 when interrupted by SIGINT/SIGTERM.
 */
export async function demo(): Promise<number> {
  const { demo: replay } = await import("../demo/mod.ts");
  return await replay();
}
