/**
 * `deno task compile`: fails fast and says what to do when no denort can be
 * had; builds a binary that runs the agent when DENORT_BIN gives one (ignored
 * here without one: no denort download); lists in SHA256SUMS only binaries
 * that passed the smoke test, and signs the sums so that openssl verifies them
 * the way install.sh does.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { COMPILE_FLAGS, elfArch, TARGETS } from "../packaging/compile.ts";

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

const DENORT_BIN = Deno.env.get("DENORT_BIN");

Deno.test({
  name: "deno task compile with DENORT_BIN: a binary that runs the agent, and its SHA256SUMS" +
    (DENORT_BIN ? "" : " (ignored: no denort on this machine; set DENORT_BIN=/path/to/denort)"),
  ignore: !DENORT_BIN,
  fn: async () => {
    const denort = DENORT_BIN!;
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
  },
});

/** Runs `cmd args…` and returns its exit code and output. */
async function runCmd(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  const o = await new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" })
    .output();
  return { code: o.code, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

Deno.test("deno task compile --smoke, then --sums: only a smoke-tested binary is listed, and the sums are signed so that openssl (as install.sh runs it) verifies them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "agent-sums-" });
  try {
    const target = TARGETS.find((t) => t === `${Deno.build.arch}-unknown-linux-gnu`)!;
    const binary = `${dir}/agent-${target}`;
    // A stand-in for the compiled binary: the same program, run by deno.
    await Deno.writeTextFile(
      binary,
      `#!/bin/sh\nexec '${Deno.execPath()}' run --allow-all --unstable-net '${REPO}main.ts' "$@"\n`,
    );
    await Deno.chmod(binary, 0o755);
    const key = `${dir}/key.pem`;
    const pub = `${dir}/pub.pem`;
    assert.equal(
      (await runCmd("openssl", ["genpkey", "-algorithm", "ed25519", "-out", key])).code,
      0,
    );
    assert.equal((await runCmd("openssl", ["pkey", "-in", key, "-pubout", "-out", pub])).code, 0);

    // Not smoke-tested: no sums.
    const refused = await compileTask(["--sums", dir, "--signing-key", key], envWithout({}));
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    assert.match(refused.stderr, new RegExp(`agent-${target} not smoke-tested`));
    await assert.rejects(Deno.stat(`${dir}/SHA256SUMS`));

    // The smoke test: version, check-config of the installer's config, demo.
    const smoke = await compileTask(["--smoke", binary], envWithout({}));
    assert.equal(smoke.code, 0, smoke.stdout + smoke.stderr);
    assert.match(smoke.stdout, /smoke test passed: agent /);
    console.log(
      `summary: smoke test (version, check-config, demo) in ${(smoke.ms / 1000).toFixed(1)} s`,
    );

    const signed = await compileTask(["--sums", dir], { ...envWithout({}), SIGNING_KEY: key });
    assert.equal(signed.code, 0, signed.stdout + signed.stderr);
    const verify = await runCmd("openssl", [
      "pkeyutl",
      "-verify",
      "-rawin",
      "-pubin",
      "-inkey",
      pub,
      "-in",
      `${dir}/SHA256SUMS`,
      "-sigfile",
      `${dir}/SHA256SUMS.sig`,
    ]);
    assert.equal(verify.code, 0, verify.out);

    // The bytes changed after the smoke test: refused again.
    await Deno.writeTextFile(binary, "# changed\n", { append: true });
    const changed = await compileTask(["--sums", dir, "--signing-key", key], envWithout({}));
    assert.equal(changed.code, 1, changed.stdout + changed.stderr);
    assert.match(changed.stderr, /not smoke-tested as built/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the release binary's flags let the agent read /proc/PID/stat and send sd_notify", async () => {
  // What the agent does with them: prove rsyslogd's identity (watchdog/_proc.ts) before a
  // signal, and send READY=1 from an unnamed unix datagram socket (control/sd_notify.ts).
  // With six separate --allow-* flags Deno refused both, and a booted host never got READY=1.
  const dir = await Deno.makeTempDir({ prefix: "compile_flags_" });
  try {
    const script = `${dir}/probe.ts`;
    await Deno.writeTextFile(
      script,
      `import { processId } from "${REPO}watchdog/_proc.ts";
const id = processId(Deno.pid);
if (id === undefined) throw new Error("no identity for my own pid");
const s = Deno.listenDatagram({ transport: "unixpacket", path: "" });
s.close();
console.log("ok");
`,
    );
    const flags = COMPILE_FLAGS.filter((f) => f !== "--no-remote" && f !== "--no-npm");
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...flags, script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(dec.decode(out.stdout).trim(), "ok", dec.decode(out.stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
