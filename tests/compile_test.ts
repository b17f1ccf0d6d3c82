/**
 * `deno task compile`: fails fast and says what to do when no denort can be
 * had; builds a binary that runs the agent when DENORT_BIN gives one.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { elfArch, TARGETS } from "../packaging/compile.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const dec = new TextDecoder();

/** This process's environment without any DENORT_BIN*, plus `extra`. */
function envWithout(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (!k.startsWith("DENORT_BIN") && !/^(https?|no|all)_proxy$/i.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

async function compileTask(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "compile", ...args],
    cwd: REPO,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    ms: performance.now() - t0,
  };
}

Deno.test("deno task compile without a denort: fails within a minute and says to set DENORT_BIN", async () => {
  const dir = await Deno.makeTempDir({ prefix: "agent-compile-" });
  // A proxy that accepts connections and never answers: the download host
  // "hangs", whatever this machine's network is. An empty DENO_DIR has no
  // cached denort.
  const proxy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of proxy) held.push(conn);
    } catch {
      // closed
    }
  })();
  try {
    const url = `http://127.0.0.1:${proxy.addr.port}`;
    const r = await compileTask(
      ["--out", `${dir}/dist`],
      envWithout({ DENO_DIR: `${dir}/deno_dir`, HTTPS_PROXY: url, https_proxy: url }),
    );
    console.log(
      `summary: compile without denort: exit ${r.code} after ${(r.ms / 1000).toFixed(1)} s`,
    );
    assert.notEqual(r.code, 0, r.stdout + r.stderr);
    assert.ok(r.ms < 60_000, `took ${r.ms} ms`);
    for (const target of TARGETS) {
      assert.match(
        r.stderr,
        new RegExp(`${target}: denort unavailable: set DENORT_BIN=/path/to/denort`),
      );
    }
    assert.match(r.stderr, /nothing was built/);
    assert.ok(held.length > 0, "the download host was never asked");
    const built = await Array.fromAsync(Deno.readDir(dir));
    assert.ok(!built.some((e) => e.name === "dist"), "something was written to --out");
  } finally {
    proxy.close();
    await accepting;
    for (const c of held) c.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task compile with DENORT_BIN: a binary that runs the agent, and its SHA256SUMS", async () => {
  const denort = Deno.env.get("DENORT_BIN");
  if (!denort) {
    console.log("not run: denort unavailable (set DENORT_BIN=/path/to/denort to build here)");
    return;
  }
  const head = new Uint8Array(64);
  const file = await Deno.open(denort);
  await file.read(head);
  file.close();
  const arch = elfArch(head);
  const target = TARGETS.find((t) => t.startsWith(`${arch}-`));
  assert.ok(target, `DENORT_BIN=${denort} is ${arch}, not a Linux x86_64 or aarch64 denort`);

  const dir = await Deno.makeTempDir({ prefix: "agent-compile-" });
  try {
    const r = await compileTask(
      ["--target", target, "--out", dir],
      { ...envWithout({}), DENORT_BIN: denort },
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const binary = `${dir}/agent-${target}`;
    const st = await Deno.stat(binary);
    assert.equal(st.mode! & 0o111, 0o111, "not executable");
    console.log(`summary: ${binary}: ${(st.size / 1024 / 1024).toFixed(1)} MiB`);

    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", await Deno.readFile(binary)),
    );
    const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    assert.equal(await Deno.readTextFile(`${dir}/SHA256SUMS`), `${hex}  agent-${target}\n`);

    if (target === Deno.build.target) {
      const v = await new Deno.Command(binary, { args: ["version"], stdout: "piped" }).output();
      assert.equal(v.code, 0);
      assert.match(dec.decode(v.stdout), new RegExp(`^agent .*\\n.*\\ntarget ${target}`, "s"));
      const cfg = `${dir}/agent.json`;
      await Deno.writeTextFile(cfg, '{ "collectors": [{ "address": "a:1" }] }');
      const c = await new Deno.Command(binary, { args: ["check-config", cfg], stderr: "piped" })
        .output();
      assert.equal(c.code, 0, dec.decode(c.stderr));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
