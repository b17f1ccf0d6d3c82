/**
 * The probe target as the config file writes it.
 *
 * @module
 */

import type { ProbeTarget } from "./config.ts";

/**
 * The text of `target` as in the config file (`unix:///dev/log`,
 * `udp://127.0.0.1:514`, `none`): what messages about the probe show.
 *
 * @example
 * ```ts
 * import { parseConfig, probeTargetText } from "./mod.ts";
 *
 * const config = parseConfig('{"rsyslogd": {"probe": {"target": "udp://[::1]:514"}}}', "inline");
 * console.log(probeTargetText(config.rsyslogd.probe.target)); // udp://[::1]:514
 * ```
 */
export function probeTargetText(target: ProbeTarget): string {
  switch (target.kind) {
    case "none":
      return "none";
    case "unix":
      return `unix://${target.path}`;
    default:
      return `${target.kind}://${target.address.text}`;
  }
}
