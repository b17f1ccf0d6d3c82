/**
 * What the kernel can tell about a TCP connection to a collector: how much of
 * our stream the collector's kernel acknowledged, and the receive window it
 * advertises (which shrinks when its application stops reading). Read with
 * `getsockopt(TCP_INFO)` through FFI, on the socket's descriptor, found by its
 * inode in `/proc/self/fd`.
 *
 * @module
 */

import { libc } from "../ground/mod.ts";

/** One look at a connection's TCP_INFO. */
export interface TcpEvidence {
  /** Bytes of our stream the peer's kernel has acknowledged. */
  bytesAcked: number;
  /** The receive window the peer advertises now, bytes. */
  sndWnd: number;
}

/** Reads the evidence of one connection now; `undefined` when it cannot be read any more. */
export type EvidenceSource = () => TcpEvidence | undefined;

/** `IPPROTO_TCP`, `TCP_INFO`, and where the fields are in `struct tcp_info` (linux/tcp.h). */
const IPPROTO_TCP = 6;
const TCP_INFO = 11;
const BYTES_ACKED = 120;
const SND_WND = 228;
const INFO_BYTES = 512;

/** The inode of the established socket from local port `local` to remote port `remote`. */
function socketInode(local: number, remote: number): string | undefined {
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch {
      continue;
    }
    for (const line of text.split("\n")) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== "01") continue;
      const lp = parseInt(f[1]!.slice(f[1]!.lastIndexOf(":") + 1), 16);
      const rp = parseInt(f[2]!.slice(f[2]!.lastIndexOf(":") + 1), 16);
      if (lp === local && rp === remote) return f[9];
    }
  }
  return undefined;
}

/** The descriptor of this process that is the socket `inode`. */
function descriptorOf(inode: string): number | undefined {
  const want = `socket:[${inode}]`;
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    try {
      if (Deno.readLinkSync(`/proc/self/fd/${e.name}`) === want) return Number(e.name);
    } catch {
      // Closed meanwhile.
    }
  }
  return undefined;
}

/**
 * The evidence source of a plain TCP connection, or `undefined` where the
 * kernel cannot be asked (not a TCP connection, no FFI, no `/proc`, a kernel
 * without `tcpi_snd_wnd`). TLS connections get none: TCP counts their
 * encrypted bytes, not the stream's.
 *
 * @example
 * ```ts ignore
 * import { tcpEvidence } from "./tcp_evidence.ts";
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 514 });
 * const look = tcpEvidence(conn);
 * console.log(look?.()); // { bytesAcked: 0, sndWnd: 65483 }
 * ```
 */
export function tcpEvidence(conn: Deno.Conn): EvidenceSource | undefined {
  const local = conn.localAddr;
  const remote = conn.remoteAddr;
  if (local.transport !== "tcp" || remote.transport !== "tcp") return undefined;
  if (!("setNoDelay" in conn) || "handshake" in conn) return undefined;
  const lib = libc();
  // Not Linux with glibc, or no FFI permission: no evidence, the byte window rules.
  if (lib === null) return undefined;
  let fd: number | undefined;
  try {
    const inode = socketInode(local.port, remote.port);
    fd = inode === undefined ? undefined : descriptorOf(inode);
  } catch {
    return undefined;
  }
  if (fd === undefined) return undefined;
  const buf = new Uint8Array(INFO_BYTES);
  const len = new Uint32Array(1);
  const view = new DataView(buf.buffer);
  const look = (): TcpEvidence | undefined => {
    len[0] = INFO_BYTES;
    const r = lib.getsockopt(fd!, IPPROTO_TCP, TCP_INFO, buf, new Uint8Array(len.buffer));
    if (r !== 0 || len[0]! < SND_WND + 4) return undefined;
    // tcpi_bytes_acked counts the SYN (RFC 4898): the stream's bytes are one fewer.
    return {
      bytesAcked: Math.max(0, Number(view.getBigUint64(BYTES_ACKED, true)) - 1),
      sndWnd: view.getUint32(SND_WND, true),
    };
  };
  return look() === undefined ? undefined : look;
}
