/**
 * End-to-end: the `agent` command line as a real process.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));

async function agent(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-net", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("agent check-config: five kinds of bad config, exit 2 and one line naming each problem", async () => {
  const dir = await Deno.makeTempDir({ prefix: "agent-cli-" });
  try {
    const path = `${dir}/agent.json`;
    await Deno.writeTextFile(
      path,
      JSON.stringify({
        inputs: [{ type: "tcp", adress: "127.0.0.1:5514" }],
        collectors: [{ address: "logs" }],
        spool: { maxBytes: "lots", mode: "sometimes", syncIntervalMs: "200" },
      }),
    );
    const r = await agent("check-config", path);
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split("\n");
    const expect = [
      /^config: inputs\[0\]: unknown key "adress"/, // unknown key
      /^config: inputs\[0\]\.address: missing/, // missing required
      /^config: collectors\[0\]\.address: expected "host:port", got "logs"/, // bad address
      /^config: spool\.maxBytes: expected a size.*got "lots"/, // bad size
      /^config: spool\.mode: expected one of "fallback", "always", got "sometimes"/, // bad enum
      /^config: spool\.syncIntervalMs: expected .*got "200"/, // wrong type
    ];
    for (const re of expect) {
      assert.ok(lines.some((l) => re.test(l)), `no line matches ${re}:\n${r.stderr}`);
    }
    assert.equal(lines.length, expect.length, `one line per problem:\n${r.stderr}`);

    await Deno.writeTextFile(path, "{ not json");
    const bad = await agent("check-config", path);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^config: .*agent\.json: invalid JSON/);

    await Deno.writeTextFile(path, "{}");
    const ok = await agent("check-config", path);
    assert.equal(ok.code, 0, ok.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("agent run with a bad config exits 2 with the problem; unknown commands exit 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "agent-cli-" });
  try {
    await Deno.writeTextFile(`${dir}/agent.json`, JSON.stringify({ log: { level: "loud" } }));
    const r = await agent("run", "--config", `${dir}/agent.json`);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /config: log\.level: expected one of/);
    const missing = await agent("run", "--config", `${dir}/nope.json`);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read the config file/);
    const unknown = await agent("frobnicate");
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("agent version and help", async () => {
  const v = await agent("version");
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^agent \d+\.\d+\.\d+\ndeno \d+\.\d+\.\d+\ntarget \S+/);
  const h = await agent("help", "run");
  assert.equal(h.code, 0);
  assert.match(h.stdout, /agent run \[--config PATH\]/);
});
