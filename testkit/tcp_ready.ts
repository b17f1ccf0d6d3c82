/**
 * Readiness check for a child process that should listen on a loopback TCP port.
 *
 * @module
 */

import { withDescendants } from "./find_processes.ts";
import { closeQuietly } from "../ground/mod.ts";

/**
 * Resolves `true` when 127.0.0.1:`port` accepts a TCP connection and, where
 * `/proc` can tell, the listening socket belongs to process `pid` or one of
 * its descendants (an agent may hand a port to a child rsyslogd).
 *
 * The ownership check matters because rsyslogd does not exit when it cannot
 * bind its port ("Could not create tcp listener, ignoring port"): a stray
 * listener left on the same port would otherwise make a dead input look ready.
 * When `/proc` cannot be read (not Linux, not permitted), only the connection
 * is checked. The probe connection is closed at once. Never throws.
 */
export async function tcpReady(port: number, pid: number): Promise<boolean> {
  const owned = await listenerOwnedBy(port, pid);
  if (owned === false) return false;
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port, transport: "tcp" });
  } catch {
    return false;
  }
  closeQuietly(conn);
  return true;
}

/**
 * Whether `pid` holds a listening TCP socket on `port` (IPv4 or IPv6).
 * `undefined` when `/proc` could not answer.
 */
async function listenerOwnedBy(port: number, pid: number): Promise<boolean | undefined> {
  const inodes = new Set<string>();
  try {
    for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
      let text: string;
      try {
        text = await Deno.readTextFile(table);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) continue;
        throw err;
      }
      for (const row of text.split("\n").slice(1)) {
        const cols = row.trim().split(/\s+/);
        const local = cols[1];
        const state = cols[3];
        const inode = cols[9];
        if (local === undefined || state !== "0A" || inode === undefined) continue;
        const portHex = local.slice(local.lastIndexOf(":") + 1);
        if (Number.parseInt(portHex, 16) === port) inodes.add(inode);
      }
    }
    if (inodes.size === 0) return false;
    for (const p of await withDescendants(pid)) {
      let fds: string[];
      try {
        fds = [];
        for await (const entry of Deno.readDir(`/proc/${p}/fd`)) fds.push(entry.name);
      } catch (err) {
        if (p !== pid && err instanceof Deno.errors.NotFound) continue; // child gone
        throw err;
      }
      for (const fd of fds) {
        let target: string;
        try {
          target = await Deno.readLink(`/proc/${p}/fd/${fd}`);
        } catch {
          continue; // fd closed meanwhile
        }
        const m = /^socket:\[(\d+)\]$/.exec(target);
        if (m?.[1] !== undefined && inodes.has(m[1])) return true;
      }
    }
    return false;
  } catch (err) {
    // the process is gone: nothing of it can be listening
    if (err instanceof Deno.errors.NotFound) return false;
    return undefined;
  }
}
