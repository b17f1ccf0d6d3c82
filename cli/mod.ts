/**
 * The public face of `cli/`: the commands, each loaded only when it runs (so
 * that `agent status` does not load the relay and the spool, nor `agent
 * check-config` the control socket).
 *
 * @module
 */

import type { run as Run } from "./run.ts";
import type { statusCommand as StatusCommand } from "./status.ts";
import type { rotateCommand as RotateCommand } from "./rotate.ts";
import type { reloadCommand as ReloadCommand } from "./reload.ts";
import type { tapCommand as TapCommand } from "./tap.ts";
import type { spoolCommand as SpoolCommand } from "./spool.ts";
import type { checkConfig as CheckConfig } from "./check_config.ts";
import type { demo as Demo } from "./demo.ts";

export { help } from "./help.ts";
export { parseFlags } from "./flags.ts";
export type { FlagKinds, Flags } from "./flags.ts";

/** `agent run` (see `run.ts`). */
export async function run(...args: Parameters<typeof Run>): Promise<number> {
  return await (await import("./run.ts")).run(...args);
}

/** `agent status` (see `status.ts`). */
export async function statusCommand(...args: Parameters<typeof StatusCommand>): Promise<number> {
  return await (await import("./status.ts")).statusCommand(...args);
}

/** `agent rotate` (see `rotate.ts`). */
export async function rotateCommand(...args: Parameters<typeof RotateCommand>): Promise<number> {
  return await (await import("./rotate.ts")).rotateCommand(...args);
}

/** `agent reload` (see `reload.ts`). */
export async function reloadCommand(...args: Parameters<typeof ReloadCommand>): Promise<number> {
  return await (await import("./reload.ts")).reloadCommand(...args);
}

/** `agent tap` (see `tap.ts`). */
export async function tapCommand(...args: Parameters<typeof TapCommand>): Promise<number> {
  return await (await import("./tap.ts")).tapCommand(...args);
}

/** `agent spool` (see `spool.ts`). */
export async function spoolCommand(...args: Parameters<typeof SpoolCommand>): Promise<number> {
  return await (await import("./spool.ts")).spoolCommand(...args);
}

/** `agent check-config` (see `check_config.ts`). */
export async function checkConfig(...args: Parameters<typeof CheckConfig>): Promise<number> {
  return await (await import("./check_config.ts")).checkConfig(...args);
}

/** `agent demo` (see `demo.ts`). */
export async function demo(...args: Parameters<typeof Demo>): Promise<number> {
  return await (await import("./demo.ts")).demo(...args);
}
