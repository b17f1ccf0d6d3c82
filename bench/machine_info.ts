/**
 * The machine a benchmark ran on, for its report.
 *
 * @module
 */

import { capture } from "../testkit/mod.ts";

/** The machine the numbers come from. */
export interface Machine {
  /** `nproc`. */
  nproc: number;
  /** CPU model from /proc/cpuinfo. */
  cpuModel: string;
  /** `uname -r`. */
  kernel: string;
  /** `rsyslogd -v`, first line. */
  rsyslogd: string;
  /** `syslog-ng --version`, first line, or why it is not available. */
  syslogNg: string;
  /** `Deno.version`. */
  deno: string;
}

/** Facts about this machine and the peers' versions. */
export async function machineInfo(syslogNg: string): Promise<Machine> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown";
  const first = async (cmd: string, args: string[]): Promise<string> => {
    try {
      return (await capture(cmd, args)).split("\n")[0]?.trim() ?? "";
    } catch (err) {
      return `unknown (${err instanceof Error ? err.message.split("\n")[0] : err})`;
    }
  };
  return {
    nproc: Number(await first("nproc", [])),
    cpuModel: model,
    kernel: await first("uname", ["-r"]),
    rsyslogd: (await first("/usr/sbin/rsyslogd", ["-v"])).replace(/\s+compiled with:$/, "")
      .replace(/\s+/g, " "),
    syslogNg,
    deno: Deno.version.deno,
  };
}
