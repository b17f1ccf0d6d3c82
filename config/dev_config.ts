/**
 * The embedded config of `agent run --dev` (what `deno task start` runs).
 *
 * @module
 */

import type { Config } from "./config.ts";
import { parseConfig } from "./parse_config.ts";

/**
 * A config that runs without root, with every file under `stateDir`: inputs
 * TCP and UDP on 127.0.0.1:5514, one collector at 127.0.0.1:10514, the spool
 * in `<stateDir>/spool`, the control socket at `<stateDir>/agent.sock`,
 * metrics on 127.0.0.1:9514 and rsyslogd not managed. Everything else is the
 * default of {@linkcode parseConfig}.
 */
export function devConfig(stateDir: string): Config {
  const json = {
    inputs: [
      { type: "tcp", address: "127.0.0.1:5514" },
      { type: "udp", address: "127.0.0.1:5514" },
    ],
    collectors: [{ address: "127.0.0.1:10514" }],
    spool: { dir: `${stateDir}/spool` },
    rsyslogd: { mode: "off" },
    control: { socket: `${stateDir}/agent.sock`, metrics: "127.0.0.1:9514" },
  };
  return parseConfig(JSON.stringify(json), "the --dev config");
}
