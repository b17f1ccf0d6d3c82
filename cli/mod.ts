/**
 * The public face of `cli/`: what the other folders use of it.
 *
 * @module
 */

export { checkConfig } from "./check_config.ts";
export { controlRequest, UnreachableError } from "../control/mod.ts";
export { demo } from "./demo.ts";
export { help } from "./help.ts";
export { rotateCommand } from "./rotate.ts";
export { run } from "./run.ts";
export { statusCommand } from "./status.ts";
export { tapCommand } from "./tap.ts";
export { spoolCommand } from "./spool.ts";
