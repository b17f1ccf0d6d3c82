/**
 * A private network namespace for tests and benchmarks (`ip netns`): its own
 * loopback, where all of 127.0.0.0/8 can be bound, and its own hosts file
 * (`/etc/netns/NAME/hosts`, which `ip netns exec` bind-mounts over
 * `/etc/hosts` for every process it starts). Needs root and iproute2.
 *
 * @module
 */

import { deferCleanup } from "./cleanup.ts";
import { capture } from "./capture.ts";
import { type LoggedChild, spawnLogged } from "./process.ts";
import { waitFor } from "./wait_for.ts";

/** One row of `/proc/PID/net/tcp` (IPv4). */
export interface TcpSocketRow {
  /** Local address, dotted quad. */
  localAddress: string;
  /** Local port. */
  localPort: number;
  /** Remote address, dotted quad. */
  remoteAddress: string;
  /** Remote port. */
  remotePort: number;
  /** The kernel's state, two hex digits: `01` ESTABLISHED, `0A` LISTEN, … */
  state: string;
  /** The socket's inode (what `/proc/PID/fd/N` links to as `socket:[INODE]`). */
  inode: string;
}

/** The TCP state of an established connection in `/proc/net/tcp`. */
export const TCP_ESTABLISHED = "01";
/** The TCP state of a listening socket in `/proc/net/tcp`. */
export const TCP_LISTEN = "0A";

/**
 * Parses the text of `/proc/net/tcp` (IPv4: `0100007F:1F90` is 127.0.0.1:8080,
 * the address in host byte order, which is little-endian on the machines this
 * runs on). Rows that do not parse are skipped.
 *
 * @example
 * ```ts
 * import { parseProcNetTcp } from "./netns.ts";
 *
 * const rows = parseProcNetTcp(
 *   "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
 *     "   0: 0200007F:0202 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1\n",
 * );
 * // rows[0]: { localAddress: "127.0.0.2", localPort: 514, state: "0A", inode: "4242", … }
 * ```
 */
export function parseProcNetTcp(text: string): TcpSocketRow[] {
  const rows: TcpSocketRow[] = [];
  for (const line of text.split("\n").slice(1)) {
    const cols = line.trim().split(/\s+/);
    const local = endpoint(cols[1]);
    const remote = endpoint(cols[2]);
    const state = cols[3];
    const inode = cols[9];
    if (local === undefined || remote === undefined || state === undefined) continue;
    if (inode === undefined) continue;
    rows.push({
      localAddress: local.address,
      localPort: local.port,
      remoteAddress: remote.address,
      remotePort: remote.port,
      state,
      inode,
    });
  }
  return rows;
}

/** `AABBCCDD:PPPP` of /proc/net/tcp as an address and a port. */
function endpoint(hex: string | undefined): { address: string; port: number } | undefined {
  const m = /^([0-9A-Fa-f]{8}):([0-9A-Fa-f]{4})$/.exec(hex ?? "");
  if (!m?.[1] || !m[2]) return undefined;
  const n = Number.parseInt(m[1], 16);
  const address = [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].join(".");
  return { address, port: Number.parseInt(m[2], 16) };
}

/**
 * Whether process `pid` holds a listening TCP socket on `port` (and, when
 * given, `address`), in whatever network namespace it runs: the table is read
 * from `/proc/PID/net/tcp`, which shows the process's own namespace, and the
 * socket must be one of the process's file descriptors. False once it is gone.
 */
export async function listensIn(pid: number, port: number, address?: string): Promise<boolean> {
  let text: string;
  try {
    text = await Deno.readTextFile(`/proc/${pid}/net/tcp`);
  } catch {
    return false;
  }
  const inodes = new Set(
    parseProcNetTcp(text)
      .filter((r) =>
        r.state === TCP_LISTEN && r.localPort === port &&
        (address === undefined || r.localAddress === address || r.localAddress === "0.0.0.0")
      )
      .map((r) => r.inode),
  );
  if (inodes.size === 0) return false;
  try {
    for await (const entry of Deno.readDir(`/proc/${pid}/fd`)) {
      const target = await Deno.readLink(`/proc/${pid}/fd/${entry.name}`).catch(() => "");
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m?.[1] !== undefined && inodes.has(m[1])) return true;
    }
  } catch {
    return false;
  }
  return false;
}

/**
 * Why network namespaces cannot be used here (not root, no `ip`, `ip netns add`
 * refused), or `undefined` when they can: a throw-away namespace is made and
 * deleted to find out.
 */
export async function netnsUnavailable(): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return `not Linux (${Deno.build.os})`;
  if (Deno.uid() !== 0) return "not root (ip netns needs CAP_SYS_ADMIN)";
  const name = `syslog-probe-${randomSuffix()}`;
  try {
    await capture("ip", ["netns", "add", name]);
  } catch (err) {
    return `ip netns add failed: ${err instanceof Error ? err.message.split("\n")[0] : err}`;
  }
  await capture("ip", ["netns", "del", name]).catch(() => {});
  return undefined;
}

/** Eight random lowercase hex digits. */
function randomSuffix(): string {
  return crypto.getRandomValues(new Uint32Array(1))[0]!.toString(16).padStart(8, "0");
}

/** Options of {@linkcode NetNs.create}. */
export interface NetNsOptions {
  /** Name prefix; a random suffix is added (default `syslog-netns-`). */
  prefix?: string | undefined;
  /** The namespace's hosts file (default: only `127.0.0.1 localhost`). */
  hosts?: string | undefined;
}

/**
 * A network namespace `PREFIX<random>` with `lo` up and its own hosts file.
 * Processes are started in it with {@linkcode NetNs.argv}; a `sleep` process
 * is kept in it so that its TCP table can be read at any time
 * ({@linkcode NetNs.tcpSockets}). {@linkcode NetNs.remove} (also registered
 * for cleanup) stops that process, deletes the namespace and
 * `/etc/netns/NAME/`; every other process started in it must be stopped by
 * whoever started it.
 *
 * @example
 * ```ts ignore
 * import { NetNs } from "./netns.ts";
 *
 * const ns = await NetNs.create({ prefix: "demo-", hosts: "127.0.0.2 c1.test\n" });
 * const [cmd, ...args] = ns.argv(["getent", "hosts", "c1.test"]);
 * await new Deno.Command(cmd!, { args }).output();
 * await ns.remove();
 * ```
 */
export class NetNs {
  /** The namespace's name (`ip netns list`). */
  readonly name: string;
  /** `/etc/netns/NAME/hosts`: `/etc/hosts` for every process started in it. */
  readonly hostsFile: string;
  #holder: LoggedChild | undefined;
  #unregister: () => void = () => {};
  #removed = false;

  private constructor(name: string) {
    this.name = name;
    this.hostsFile = `/etc/netns/${name}/hosts`;
  }

  /** Makes the namespace, brings `lo` up, writes its hosts file. */
  static async create(opts: NetNsOptions = {}): Promise<NetNs> {
    const ns = new NetNs(`${opts.prefix ?? "syslog-netns-"}${randomSuffix()}`);
    ns.#unregister = deferCleanup(() => ns.remove());
    try {
      await Deno.mkdir(`/etc/netns/${ns.name}`, { recursive: true });
      await Deno.writeTextFile(ns.hostsFile, opts.hosts ?? "127.0.0.1 localhost\n");
      await capture("ip", ["netns", "add", ns.name]);
      await capture("ip", ["-n", ns.name, "link", "set", "lo", "up"]);
      const [cmd, ...args] = ns.argv(["sleep", "infinity"]);
      const holder = spawnLogged({ cmd: cmd!, args, logPath: "/dev/null" });
      ns.#holder = holder;
      await waitFor(
        async () => holder.exited() ? "exited" : (await ns.#sameNamespace(holder.pid)) && "in",
        { timeoutMs: 10_000, what: `a process in network namespace ${ns.name}` },
      ).then((r) => {
        if (r === "exited") throw new Error(`ip netns exec ${ns.name} sleep infinity exited`);
      });
    } catch (err) {
      await ns.remove();
      throw err;
    }
    return ns;
  }

  /** `cmd` as a command line that runs it in this namespace (`ip netns exec NAME …`). */
  argv(cmd: string[]): string[] {
    return ["ip", "netns", "exec", this.name, ...cmd];
  }

  /**
   * Replaces the hosts file's text. It is written in place (same inode), so
   * running processes, whose `/etc/hosts` is a bind mount of this file, see it.
   */
  async writeHosts(text: string): Promise<void> {
    await Deno.writeTextFile(this.hostsFile, text);
  }

  /** Appends `text` to the hosts file in one write (in place, see {@linkcode writeHosts}). */
  async appendHosts(text: string): Promise<void> {
    await Deno.writeTextFile(this.hostsFile, text, { append: true });
  }

  /** Every IPv4 TCP socket in the namespace, from `/proc/HOLDER/net/tcp`. */
  async tcpSockets(): Promise<TcpSocketRow[]> {
    const pid = this.#holder?.pid;
    if (pid === undefined || this.#removed) throw new Error(`netns ${this.name}: removed`);
    return parseProcNetTcp(await Deno.readTextFile(`/proc/${pid}/net/tcp`));
  }

  /** Stops the holder process, deletes the namespace and `/etc/netns/NAME/`. Idempotent. */
  async remove(): Promise<void> {
    if (this.#removed) return;
    this.#removed = true;
    this.#unregister();
    await this.#holder?.stop(1_000, "SIGKILL");
    await capture("ip", ["netns", "del", this.name]).catch(() => {});
    await Deno.remove(`/etc/netns/${this.name}`, { recursive: true }).catch(() => {});
  }

  /** Whether `pid` runs in this namespace (its net ns differs from ours, and it has lo only). */
  async #sameNamespace(pid: number): Promise<boolean> {
    const theirs = await Deno.readLink(`/proc/${pid}/ns/net`).catch(() => "");
    const ours = await Deno.readLink(`/proc/self/ns/net`).catch(() => "");
    return theirs !== "" && theirs !== ours;
  }
}
