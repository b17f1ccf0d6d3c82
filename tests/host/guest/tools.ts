/**
 * The host suite's helpers that run inside the guest (tests/host/guest/main.sh
 * starts them with the guest's `deno`):
 *
 * ```
 * tools.ts serve DIR PORT                      static files on 127.0.0.1:PORT (the loopback mirror)
 * tools.ts sink PORT FILE                      a RELP collector: each message a line in FILE, acked once written
 * tools.ts tcp-sink PORT FILE                  a TCP collector (octet-counted or LF framing): each message a line in FILE
 * tools.ts plain-json FILE                     FILE (JSON with comments and trailing commas, as agent.json) as plain JSON
 * tools.ts relp-send PORT TAG RATE ACKED       numbered messages over RELP; the acked count appended to ACKED
 * tools.ts tcp-send PORT TAG COUNT RATE        numbered LF-framed messages over TCP (into rsyslogd's imtcp)
 * tools.ts permissions PID                     what the agent does that Deno's permissions may refuse: exit 1 if one is
 * ```
 *
 * Messages carry `TAG seq=N`; FILE may live on the 9p share, so that what the
 * sink acknowledged survives a reset of the guest.
 *
 * @module
 */

import { stripJsonc } from "../../../config/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Static files from `dir`, GET only. */
function serve(dir: string, port: number): void {
  Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (req.method !== "GET" || path.includes("..")) return new Response("no\n", { status: 400 });
    try {
      return new Response(await Deno.readFile(`${dir}${path}`));
    } catch {
      return new Response("not found\n", { status: 404 });
    }
  });
  console.log(`serve: ${dir} on http://127.0.0.1:${port}/`);
}

/** One RELP frame: `TXNR SP COMMAND SP DATALEN [SP DATA] LF`. */
interface Frame {
  txnr: number;
  command: string;
  data: Uint8Array;
}

/** Takes whole frames off the front of `buf`; returns them and what is left. */
function parseFrames(buf: Uint8Array): { frames: Frame[]; rest: Uint8Array } {
  const frames: Frame[] = [];
  let pos = 0;
  for (;;) {
    const sp1 = buf.indexOf(0x20, pos);
    if (sp1 < 0) break;
    const sp2 = buf.indexOf(0x20, sp1 + 1);
    if (sp2 < 0) break;
    let end = sp2 + 1;
    while (end < buf.length && buf[end]! >= 0x30 && buf[end]! <= 0x39) end++;
    if (end >= buf.length) break;
    const len = Number(decoder.decode(buf.subarray(sp2 + 1, end)));
    const dataStart = len > 0 ? end + 1 : end;
    if (dataStart + len >= buf.length) break;
    if (buf[dataStart + len] !== 0x0a) throw new Error("relp: frame without its LF trailer");
    frames.push({
      txnr: Number(decoder.decode(buf.subarray(pos, sp1))),
      command: decoder.decode(buf.subarray(sp1 + 1, sp2)),
      data: buf.slice(dataStart, dataStart + len),
    });
    pos = dataStart + len + 1;
  }
  return { frames, rest: buf.slice(pos) };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function frame(txnr: number, command: string, data: string): Uint8Array {
  const body = encoder.encode(data);
  return encoder.encode(
    body.length > 0 ? `${txnr} ${command} ${body.length} ${data}\n` : `${txnr} ${command} 0\n`,
  );
}

/** A RELP collector: every message is appended to `file` before its `rsp 200`. */
async function sink(port: number, file: string): Promise<void> {
  const out = await Deno.open(file, { append: true, create: true });
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  console.log(`sink: RELP on 127.0.0.1:${port}, messages to ${file}`);
  for await (const conn of listener) {
    (async () => {
      let buf: Uint8Array = new Uint8Array(0);
      const chunk = new Uint8Array(256 * 1024);
      try {
        for (;;) {
          const n = await conn.read(chunk);
          if (n === null) break;
          const parsed = parseFrames(concat(buf, chunk.subarray(0, n)));
          buf = parsed.rest;
          let lines = "";
          const answers: Uint8Array[] = [];
          let closing = false;
          for (const f of parsed.frames) {
            if (f.command === "open") {
              answers.push(frame(f.txnr, "rsp", "200 OK\nrelp_version=0\ncommands=syslog"));
            } else if (f.command === "syslog") {
              lines += decoder.decode(f.data).replaceAll("\n", " ") + "\n";
              answers.push(frame(f.txnr, "rsp", "200 OK"));
            } else if (f.command === "close") {
              answers.push(frame(f.txnr, "rsp", ""));
              closing = true;
            } else {
              answers.push(frame(f.txnr, "rsp", "500 unknown command"));
            }
          }
          if (lines !== "") {
            const bytes = encoder.encode(lines);
            for (let off = 0; off < bytes.length;) off += await out.write(bytes.subarray(off));
          }
          for (const a of answers) await conn.write(a);
          if (closing) break;
        }
      } catch (e) {
        console.log(`sink: connection ended: ${e instanceof Error ? e.message : e}`);
      } finally {
        try {
          conn.close();
        } catch {
          // Closed already.
        }
      }
    })();
  }
}

/** A plain TCP collector: octet-counted (`LEN SP MSG`) or LF-framed messages, each a line in `file`. */
async function tcpSink(port: number, file: string): Promise<void> {
  const out = await Deno.open(file, { append: true, create: true });
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  console.log(`tcp-sink: TCP on 127.0.0.1:${port}, messages to ${file}`);
  for await (const conn of listener) {
    (async () => {
      let buf: Uint8Array = new Uint8Array(0);
      const chunk = new Uint8Array(64 * 1024);
      try {
        for (;;) {
          const n = await conn.read(chunk);
          if (n === null) break;
          buf = concat(buf, chunk.subarray(0, n));
          let lines = "";
          for (;;) {
            if (buf.length === 0) break;
            if (buf[0]! >= 0x30 && buf[0]! <= 0x39) {
              const sp = buf.indexOf(0x20);
              if (sp < 0) break;
              const len = Number(decoder.decode(buf.subarray(0, sp)));
              if (buf.length < sp + 1 + len) break;
              lines += decoder.decode(buf.subarray(sp + 1, sp + 1 + len)).replaceAll("\n", " ") +
                "\n";
              buf = buf.slice(sp + 1 + len);
            } else {
              const lf = buf.indexOf(0x0a);
              if (lf < 0) break;
              lines += decoder.decode(buf.subarray(0, lf)) + "\n";
              buf = buf.slice(lf + 1);
            }
          }
          if (lines !== "") {
            const bytes = encoder.encode(lines);
            for (let off = 0; off < bytes.length;) off += await out.write(bytes.subarray(off));
          }
        }
      } catch (e) {
        console.log(`tcp-sink: connection ended: ${e instanceof Error ? e.message : e}`);
      } finally {
        try {
          conn.close();
        } catch {
          // Closed already.
        }
      }
    })();
  }
}

/**
 * `text` (JSON with `//` and `/* *\/` comments and trailing commas, as
 * install.sh writes agent.json) as plain JSON text, for jq.
 */
function plainJson(text: string): string {
  return JSON.stringify(JSON.parse(stripJsonc(text)), null, 2) + "\n";
}

/**
 * Sends `TAG seq=N` (N from 1) over RELP at `rate` per second until killed,
 * at most 128 unanswered; each time the acknowledged count grows, appends it
 * to `ackedFile` (a line). Exits 1 when the connection breaks.
 */
async function relpSend(port: number, tag: string, rate: number, ackedFile: string): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const acked = await Deno.open(ackedFile, { append: true, create: true });
  let txnr = 1;
  await conn.write(
    frame(txnr++, "open", "relp_version=0\nrelp_software=host-suite\ncommands=syslog"),
  );
  let ackedCount = 0;
  let sent = 0;
  let opened = false;
  const reader = (async () => {
    let buf: Uint8Array = new Uint8Array(0);
    const chunk = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await conn.read(chunk);
      if (n === null) throw new Error("relp-send: the agent closed the connection");
      const parsed = parseFrames(concat(buf, chunk.subarray(0, n)));
      buf = parsed.rest;
      let grew = false;
      for (const f of parsed.frames) {
        if (f.command !== "rsp") continue;
        if (!decoder.decode(f.data).startsWith("200")) {
          throw new Error(`relp-send: txnr ${f.txnr} answered ${decoder.decode(f.data)}`);
        }
        if (f.txnr === 1) {
          opened = true;
          continue;
        }
        // Answers come in command order: txnr 2 is seq 1.
        if (f.txnr - 1 > ackedCount) {
          ackedCount = f.txnr - 1;
          grew = true;
        }
      }
      if (grew) await acked.write(encoder.encode(`${ackedCount}\n`));
    }
  })();
  const writer = (async () => {
    const t0 = performance.now();
    for (;;) {
      const due = t0 + (sent / rate) * 1000;
      const wait = due - performance.now();
      if (wait > 0 || !opened || sent - ackedCount >= 128) {
        await new Promise((r) => setTimeout(r, Math.max(1, Math.min(wait, 20))));
        continue;
      }
      sent++;
      await conn.write(frame(txnr++, "syslog", `<14>Dec  1 00:00:00 agentvm ${tag} seq=${sent}`));
    }
  })();
  await Promise.race([reader, writer]);
}

/** Sends `TAG seq=1..count` as LF-framed lines over TCP, paced at `rate` per second. */
async function tcpSend(port: number, tag: string, count: number, rate: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const t0 = performance.now();
  for (let seq = 1; seq <= count; seq++) {
    const wait = t0 + ((seq - 1) / rate) * 1000 - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await conn.write(encoder.encode(`<14>Dec  1 00:00:00 agentvm hsload: ${tag} seq=${seq}\n`));
  }
  conn.close();
  console.log(`tcp-send: ${count} messages sent`);
}

/**
 * Reads `/proc/PID/stat` (how the watchdog tells rsyslogd is alive) and binds
 * an unnamed unix datagram socket (how sd_notify sends READY=1), as the agent
 * does; prints what was refused. Run with the release binary's flags.
 */
function permissions(pid: number): boolean {
  const refused: string[] = [];
  try {
    Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch (e) {
    refused.push(`reading /proc/${pid}/stat: ${e instanceof Error ? e.message : e}`);
  }
  try {
    Deno.listenDatagram({ transport: "unixpacket", path: "" }).close();
  } catch (e) {
    refused.push(`an unnamed unix datagram socket: ${e instanceof Error ? e.message : e}`);
  }
  console.log(refused.length === 0 ? "all allowed" : refused.join("; "));
  return refused.length === 0;
}

async function main(args: string[]): Promise<number> {
  const [cmd, ...a] = args;
  switch (cmd) {
    case "serve":
      serve(a[0]!, Number(a[1]));
      return await new Promise<number>(() => {});
    case "sink":
      await sink(Number(a[0]), a[1]!);
      return 0;
    case "tcp-sink":
      await tcpSink(Number(a[0]), a[1]!);
      return 0;
    case "plain-json":
      await Deno.stdout.write(encoder.encode(plainJson(await Deno.readTextFile(a[0]!))));
      return 0;
    case "relp-send":
      await relpSend(Number(a[0]), a[1]!, Number(a[2]), a[3]!);
      return 1;
    case "permissions":
      return permissions(Number(a[0])) ? 0 : 1;
    case "tcp-send":
      await tcpSend(Number(a[0]), a[1]!, Number(a[2]), Number(a[3]));
      return 0;
    default:
      console.error(`tools.ts: unknown command ${cmd}`);
      return 2;
  }
}

if (import.meta.main) {
  try {
    Deno.exitCode = await main(Deno.args);
  } catch (e) {
    console.error(`tools.ts: ${e instanceof Error ? e.message : e}`);
    Deno.exitCode = 1;
  }
}
