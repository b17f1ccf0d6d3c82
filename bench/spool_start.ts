/**
 * Start-up time with a big spool: seconds from spawning `agent run` to
 * READY=1 on $NOTIFY_SOCKET, and to the log line saying every old segment is
 * counted, with a spool of `--gib` GiB of 16 MiB segments left by an earlier
 * run (collector down, so nothing is drained while it is measured).
 *
 *   deno run -A --unstable-net bench/spool_start.ts --gib 1 [--rounds 3] [--cold]
 *     [--compare /path/to/other/checkout/main.ts] [--dir /work/tmp]
 *
 * `--cold` drops the segment files from the page cache before each start
 * (`dd iflag=nocache`, per file: the rest of the machine's cache stays);
 * `--compare` measures another checkout too (e.g. a `git worktree` of an
 * older commit). The spool is made once and removed at the end.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import {
  FIRST_SEGMENT_ID,
  freePort,
  segmentBytes,
  segmentName,
  startAgent,
} from "../testkit/mod.ts";

const SIZE = 200;
const SEGMENT = 16 * 1024 * 1024;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    gib: { type: "string", default: "1" },
    rounds: { type: "string", default: "3" },
    cold: { type: "boolean", default: false },
    compare: { type: "string" },
    dir: { type: "string" },
  },
});
const gib = Number(values.gib);
const rounds = Number(values.rounds);
const mains: { name: string; path: string }[] = [
  { name: "this checkout", path: fileURLToPath(new URL("../main.ts", import.meta.url)) },
  ...(values.compare ? [{ name: values.compare, path: values.compare }] : []),
];

const root = await Deno.makeTempDir({
  prefix: "bench-spool-start-",
  ...(values.dir === undefined ? {} : { dir: values.dir }),
});
const spool = `${root}/spool`;
const onSignal = () => {
  Deno.removeSync(root, { recursive: true });
  Deno.exit(130);
};
const SIGNALS = ["SIGINT", "SIGTERM"] as const;
for (const sig of SIGNALS) Deno.addSignalListener(sig, onSignal);
try {
  // One segment's records (distinct sequence numbers within it), written as every segment.
  const per = Math.floor(SEGMENT / (8 + SIZE));
  const seg = segmentBytes(0, per, SIZE, "old");
  const segments = Math.round(gib * 1024 * 1024 * 1024 / seg.length);
  await Deno.mkdir(spool, { recursive: true });
  const t = performance.now();
  for (let i = 0; i < segments; i++) {
    await Deno.writeFile(`${spool}/${segmentName(FIRST_SEGMENT_ID + i)}`, seg);
  }
  console.log(
    `spool: ${segments} segments, ${(segments * seg.length / 2 ** 30).toFixed(2)} GiB, ${
      (segments * per).toLocaleString("en-US")
    } messages, written in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  for (const main of mains) {
    const ready: number[] = [];
    const counted: number[] = [];
    for (let round = 0; round < rounds; round++) {
      if (values.cold) await dropCache(spool);
      const m = await measure(main.path, `${root}/run-${round}`, spool);
      ready.push(m.ready);
      counted.push(m.counted);
      console.log(
        `  ${main.name} round ${round + 1}: READY=1 after ${m.ready.toFixed(2)} s, counted after ${
          m.counted.toFixed(2)
        } s`,
      );
    }
    console.log(
      `${main.name}: ${gib} GiB spool${
        values.cold ? " (cold cache)" : " (warm cache)"
      }: READY=1 median ${median(ready).toFixed(2)} s, all counted median ${
        median(counted).toFixed(2)
      } s (${rounds} rounds)`,
    );
  }
} finally {
  await Deno.remove(root, { recursive: true });
  for (const sig of SIGNALS) Deno.removeSignalListener(sig, onSignal);
}

/** One start: seconds to READY=1 and to the "recovered" log line; the agent is then killed. */
async function measure(
  mainPath: string,
  dir: string,
  spoolDir: string,
): Promise<{ ready: number; counted: number }> {
  await Deno.mkdir(dir, { recursive: true });
  const notifyPath = `${dir}/notify`;
  const socket = Deno.listenDatagram({ transport: "unixpacket", path: notifyPath });
  let readyAt: number | undefined;
  const receiving = (async () => {
    try {
      for await (const [data] of socket) {
        if (new TextDecoder().decode(data).includes("READY=1")) readyAt ??= Date.now();
      }
    } catch { /* closed */ }
  })();
  const startedAt = Date.now();
  const agent = await startAgent({
    dir,
    mainPath,
    env: { NOTIFY_SOCKET: notifyPath },
    config: {
      inputs: [{ type: "tcp", address: `127.0.0.1:${await freePort()}` }],
      // Nobody listens there: nothing is delivered (or acknowledged) while it is measured.
      collectors: [{ address: `127.0.0.1:${await freePort()}` }],
      spool: { dir: spoolDir, maxBytes: "64GiB" },
      log: { level: "info" },
    },
  });
  let exited = false;
  agent.status.then(() => exited = true);
  try {
    let countedAt: number | undefined;
    const deadline = Date.now() + 30 * 60_000;
    while (readyAt === undefined || countedAt === undefined) {
      if (Date.now() > deadline) throw new Error("no READY=1 or no counted line in 30 minutes");
      if (exited) throw new Error(`the agent exited:\n${await agent.log()}`);
      const line = (await agent.log()).split("\n").find((l) =>
        /spool: recovered \d+ message/.test(l)
      );
      if (line !== undefined) countedAt = Date.parse(line.split(" ")[0]!);
      await new Promise((r) => setTimeout(r, 10));
    }
    return { ready: (readyAt - startedAt) / 1000, counted: (countedAt - startedAt) / 1000 };
  } finally {
    // SIGKILL: a stop would write a checkpoint and change the spool for the next round.
    await agent.stop("SIGKILL");
    socket.close();
    await receiving;
    await Deno.remove(dir, { recursive: true });
  }
}

/** Drops the spool's files from the page cache (POSIX_FADV_DONTNEED through dd). */
async function dropCache(dir: string): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    await new Deno.Command("dd", {
      args: [`if=${dir}/${e.name}`, "iflag=nocache", "count=0", "status=none"],
    }).output();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}
