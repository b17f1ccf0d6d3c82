/**
 * `agent spool stat|cat|verify` with a real agent: through the running agent,
 * then on the stopped agent's directory with a damaged record, a torn tail
 * and a stray file; read only (the files are the same bytes afterwards).
 */

import assert from "node:assert/strict";
import {
  agentArgv,
  batchRecords,
  checkSeqs,
  freePort,
  sendSeq,
  startAgent,
  tempDir,
  waitFor,
} from "../testkit/mod.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const COUNT = 1_000;

/** Runs `agent ARGS`: exit code and stdout lines. */
async function agent(args: string[]): Promise<{ code: number; lines: string[] }> {
  const [cmd, ...rest] = agentArgv(args);
  const out = await new Deno.Command(cmd!, { args: rest, stdout: "piped", stderr: "piped" })
    .output();
  const lines = new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "");
  return { code: out.code, lines };
}

/** Every file of `dir` and its bytes. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile) {
      out.set(e.name, btoa(String.fromCharCode(...await Deno.readFile(`${dir}/${e.name}`))));
    }
  }
  return out;
}

Deno.test(
  "agent spool: stat, cat and verify through the running agent, then on its stopped directory with a damaged record, a torn tail and a stray file, never changing it",
  opts,
  async () => {
    const dir = await tempDir("spool-cli-");
    const port = await freePort();
    const spool = `${dir.path}/agent/spool`;
    const running = await startAgent({
      dir: `${dir.path}/agent`,
      readyPort: port,
      config: {
        inputs: [{ type: "tcp", address: `127.0.0.1:${port}` }],
        collectors: [{ address: `127.0.0.1:${await freePort()}` }], // nobody there: all spooled
        spool: { dir: spool },
      },
    });
    const socket = `${dir.path}/agent/agent.sock`;
    try {
      // Many small writes: many records (batches) in the segment.
      for (let i = 0; i < COUNT; i += 50) {
        await sendSeq({ port, count: 50, size: 120, framing: "octet-counted", start: i });
      }
      await waitFor(async () => {
        const st = await running.statusJson() as { spool: { messages: number } };
        return st.spool.messages === COUNT;
      }, { timeoutMs: 15_000, what: `${COUNT} spooled` });

      const live = await agent(["spool", "stat", "--json", "--socket", socket]);
      assert.equal(live.code, 0);
      const stat = JSON.parse(live.lines[0]!);
      assert.equal(stat.source, "running agent: its files as far as written");
      assert.equal(stat.dir, spool);
      assert.equal(stat.messages, COUNT);
      assert.equal(stat.damage, 0);
      const tail = await agent(["spool", "cat", "--tail", "3", "--socket", socket]);
      assert.equal(checkSeqs(tail.lines, COUNT).unique, 3);
      assert.match(tail.lines[2]!, /seq=00000999 /);
      const one = await agent([
        "spool",
        "cat",
        "--grep",
        "seq=00000042 ",
        "--json",
        "--socket",
        socket,
      ]);
      assert.equal(one.lines.length, 1);
      assert.equal(JSON.parse(one.lines[0]!).delivered, false);
      assert.equal((await agent(["spool", "verify", "--socket", socket])).code, 0);

      await running.stop();
      // Damage: a byte of a record in the middle, the last record cut short, a stray file.
      const segs = [...Deno.readDirSync(spool)].filter((e) => e.name.endsWith(".seg"))
        .map((e) => e.name).sort();
      const last = `${spool}/${segs.at(-1)!}`;
      const data = await Deno.readFile(last);
      const records = batchRecords(data);
      assert.ok(records.length >= 4, `${records.length} records`);
      const mid = records[Math.floor((records.length - 1) / 2)]!;
      const torn = records.at(-1)!;
      data[mid.at + 24 + 10]! ^= 0xff;
      await Deno.writeFile(last, data.subarray(0, data.length - 7));
      await Deno.writeTextFile(`${spool}/junk.tmp`, "not the spool's");
      await Deno.writeTextFile(
        `${spool}/dead-letter.log`,
        `2026-12-01T00:00:00.000Z 10.0.0.5:2514 "refused 3 times: 500 bad" "<13>poison"\n`,
      );
      const before = await snapshot(spool);

      const verify = await agent(["spool", "verify", "--dir", spool]);
      assert.equal(verify.code, 1);
      const name = segs.at(-1)!;
      assert.deepEqual(verify.lines.slice(0, 3), [
        `${name}: a damaged record at offset ${mid.at} (its checksum fails: skipped and counted as corrupt)`,
        `${name}: a record cut short at offset ${torn.at} (a torn tail: the agent cuts it off at start)`,
        "junk.tmp: a stray file, not the spool's (the agent leaves it alone)",
      ]);
      const stopped = JSON.parse(
        (await agent(["spool", "stat", "--json", "--dir", spool])).lines[0]!,
      );
      assert.equal(stopped.source, "no running agent for it: read from the files");
      assert.equal(stopped.messages, COUNT - mid.count - torn.count);
      assert.equal(stopped.damage, 2);
      assert.deepEqual(stopped.stray, ["junk.tmp"]);
      assert.equal(stopped.deadLetters, 1);
      const all = await agent(["spool", "cat", "--dir", spool]);
      assert.equal(checkSeqs(all.lines, COUNT).unique, COUNT - mid.count - torn.count);
      const dead = await agent(["spool", "cat", "--dead-letter", "--dir", spool]);
      assert.deepEqual(dead.lines, ["<13>poison"]);
      assert.deepEqual(await snapshot(spool), before, "read only: every file as it was");
    } finally {
      await running.stop("SIGKILL").catch(() => {});
      await dir.remove();
    }
  },
);
