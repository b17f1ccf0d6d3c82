/**
 * `deno task compile [--target TARGET]... [--out DIR] [--signing-key FILE]`:
 * builds the single `agent` binary with `deno compile` for x86_64 and aarch64
 * Linux into `dist/agent-<target>`, smoke-tests each one this machine can run
 * (`agent version`, `agent check-config` of the config install.sh writes,
 * `agent demo`) and records that in `agent-<target>.smoked` (its SHA-256),
 * then writes `dist/SHA256SUMS` (sha256sum format) and, given the release key
 * (`--signing-key FILE` or `SIGNING_KEY=FILE`, an ed25519 private key in PEM),
 * `dist/SHA256SUMS.sig`. install.sh downloads exactly these names and refuses
 * sums that are unsigned or not signed by the key it carries.
 *
 * No binary gets into SHA256SUMS without a passed smoke test of those very
 * bytes. A cross-built binary (aarch64 on an x86_64 builder) cannot be run
 * here: the task builds it, says so, and writes no sums. Smoke it on its own
 * architecture with `deno task compile --smoke dist/agent-<target>`, then
 * write and sign the sums with `deno task compile --sums dist
 * --signing-key FILE` (what .github/workflows/release.yml does, one runner per
 * architecture).
 *
 * `deno compile` appends the program to `denort`, Deno's runtime without its
 * tools, which it downloads from Deno's download host and caches in DENO_DIR.
 * Machines without that host (air-gapped builders, this project's CI) give it
 * a local one: `DENORT_BIN=/path/to/denort` (Deno's own variable; it is used
 * for every target, so it is only passed to the build of the target it was
 * made for, read from its ELF header), or `DENORT_BIN_X86_64` /
 * `DENORT_BIN_AARCH64` for one target each. Where no denort can be had the
 * task says so and fails at once, instead of hanging on the download.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** The Linux targets released, as `deno compile --target` names them. */
export const TARGETS = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"] as const;

/** One of {@linkcode TARGETS}. */
export type Target = typeof TARGETS[number];

/**
 * The permissions and flags baked into the binary: all of them. Scoping them
 * to paths or hosts is not possible: the config, spool, control socket and
 * collectors are the operator's choice (and `--allow-run` of an
 * operator-chosen rsyslogd or restart command is as strong as root anyway);
 * and Deno grants two things the agent needs only with `--allow-all`: reading
 * `/proc/PID/stat` (rsyslogd's identity and start time, before any signal)
 * and the unnamed datagram socket that sends sd_notify's `READY=1`. The fence
 * around the agent is the systemd unit's sandbox
 * (packaging/systemd/syslog-agent.service), and nothing ever prompts.
 *
 * `--max-semi-space-size=2` caps V8's young generation at 2 × 2 MiB: left to
 * grow under a steady load, it took the heap from 9.5 to 15.5 MiB, and the
 * buffers that die young waited that much longer to be freed. At 20,000
 * msg/s (`spool.mode: always`) peak RSS went from 79-81 to 72-73 MiB at the
 * same CPU; 1 MiB promotes buffers still in flight and peaks higher (84-85
 * MiB). The `deno task start` line in deno.json carries the same flag.
 */
export const COMPILE_FLAGS: readonly string[] = [
  "--allow-all",
  "--unstable-net", // UDP input, sd_notify datagrams
  "--no-prompt",
  "--no-remote",
  "--no-npm",
  "--v8-flags=--max-semi-space-size=2", // memory: see above; README "Memory"
];

/** How long the download host gets to answer before denort counts as unavailable. */
const PROBE_TIMEOUT_MS = 10_000;
/** One `deno compile` (type check, denort download, write) may take this long. */
const COMPILE_TIMEOUT_MS = 10 * 60_000;

/** Where a target's denort comes from. */
type Denort =
  | { kind: "file"; path: string; from: string }
  | { kind: "cache"; path: string }
  | { kind: "download"; url: string };

/** The architecture an ELF file was built for (`x86_64`, `aarch64`), or a description of what it is. */
export function elfArch(head: Uint8Array): string {
  if (head.length < 20 || head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c) {
    return "not an ELF executable";
  }
  const machine = (head[18] ?? 0) | ((head[19] ?? 0) << 8);
  if (machine === 0x3e) return "x86_64";
  if (machine === 0xb7) return "aarch64";
  return `ELF machine 0x${machine.toString(16)}`;
}

/** The arch part of a target name (`x86_64`, `aarch64`). */
function archOf(target: Target): string {
  return target.slice(0, target.indexOf("-"));
}

async function readHead(path: string): Promise<Uint8Array> {
  const file = await Deno.open(path);
  try {
    const buf = new Uint8Array(64);
    const n = await file.read(buf);
    return buf.subarray(0, n ?? 0);
  } finally {
    file.close();
  }
}

/** The DENO_DIR that `deno compile` caches denort in. */
async function denoDir(): Promise<string> {
  const fromEnv = Deno.env.get("DENO_DIR");
  if (fromEnv) return fromEnv;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "null",
  }).output();
  return (JSON.parse(new TextDecoder().decode(out.stdout)) as { denoDir: string }).denoDir;
}

/** True when `url` answers a HEAD request with 2xx within {@linkcode PROBE_TIMEOUT_MS}; else why not. */
async function reachable(url: string): Promise<string | true> {
  try {
    const res = await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await res.body?.cancel();
    return res.ok ? true : `HTTP ${res.status}`;
  } catch (e) {
    const name = e instanceof Error ? e.name : "";
    if (name === "TimeoutError" || name === "AbortError") {
      return `no answer within ${PROBE_TIMEOUT_MS / 1000} s`;
    }
    const reasons: string[] = [];
    for (let c: unknown = e; c instanceof Error && reasons.length < 4; c = c.cause) {
      reasons.push(c.message.split("\n")[0] ?? c.name);
    }
    return reasons.join(": ") || String(e);
  }
}

/** Finds each target's denort, or says why there is none. */
async function findDenorts(targets: readonly Target[]): Promise<Map<Target, Denort | string>> {
  const dir = await denoDir();
  const found = await Promise.all(targets.map((t) => findDenort(t, dir)));
  return new Map(targets.map((t, i) => [t, found[i] ?? "not looked for"]));
}

async function findDenort(target: Target, dir: string): Promise<Denort | string> {
  const version = Deno.version.deno;
  const arch = archOf(target);
  const ARCH = arch.toUpperCase();
  const notes: string[] = [];
  for (const name of [`DENORT_BIN_${ARCH}`, "DENORT_BIN"]) {
    const path = Deno.env.get(name);
    if (!path) continue;
    let kind: string;
    try {
      kind = elfArch(await readHead(path));
    } catch (e) {
      return `${name}=${path}: cannot read it (${e instanceof Error ? e.message : e})`;
    }
    if (kind === arch) return { kind: "file", path, from: name };
    notes.push(
      `${name} is ${kind === "x86_64" || kind === "aarch64" ? `an ${kind} denort` : kind}`,
    );
  }
  const cached = `${dir}/dl/release/v${version}/denort-${target}.zip`;
  try {
    await Deno.stat(cached);
    return { kind: "cache", path: cached };
  } catch {
    // not cached: try the download host
  }
  const url = `https://dl.deno.land/release/v${version}/denort-${target}.zip`;
  const ok = await reachable(url);
  if (ok === true) return { kind: "download", url };
  return `denort unavailable: set DENORT_BIN=/path/to/denort (Deno ${version}'s denort for ${target}, ` +
    `unzipped from denort-${target}.zip) or DENORT_BIN_${ARCH}=...; ` +
    `it is not cached in ${dir}/dl and ${url} cannot be fetched (${ok})` +
    (notes.length > 0 ? `; ${notes.join("; ")}` : "");
}

/** Runs `deno compile` for one target; kills it after {@linkcode COMPILE_TIMEOUT_MS}. */
async function compileOne(
  root: string,
  target: Target,
  denort: Denort,
  output: string,
): Promise<void> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (k !== "DENORT_BIN") env[k] = v;
  }
  if (denort.kind === "file") env.DENORT_BIN = denort.path;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "compile",
      "--target",
      target,
      "--output",
      output,
      ...COMPILE_FLAGS,
      `${root}main.ts`,
    ],
    cwd: root,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const timer = setTimeout(() => {
    console.error(
      `compile: ${target}: no result after ${COMPILE_TIMEOUT_MS / 60_000} min; stopped`,
    );
    child.kill("SIGKILL");
  }, COMPILE_TIMEOUT_MS);
  const status = await child.status.finally(() => clearTimeout(timer));
  if (!status.success) {
    throw new Error(`${target}: deno compile failed (exit ${status.code})`);
  }
}

/** The config install.sh writes on a first install (watchdog on, RELP hop): it must check. */
const SMOKE_CONFIG = {
  inputs: [
    { type: "tcp", address: "127.0.0.1:5514" },
    { type: "udp", address: "127.0.0.1:5514" },
    { type: "relp", address: "127.0.0.1:2514" },
  ],
  collectors: [{ address: "logs.example.org:514", protocol: "tcp" }],
  rsyslogd: {
    mode: "external",
    pidFile: "/run/rsyslogd.pid",
    restartCommand: ["systemctl", "restart", "rsyslog"],
    probe: { target: "unix:///run/syslog-agent-probe.sock" },
  },
};

/** Runs `path args…`; throws with its output unless it exits 0 within `timeoutMs`. */
async function smokeStep(path: string, args: string[], timeoutMs: number): Promise<string> {
  const out = await new Deno.Command(path, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-5).join(" | ");
    throw new Error(
      `smoke test: ${path} ${args.join(" ")}: exit ${out.code}: ${err || text.trim()}`,
    );
  }
  return text;
}

/**
 * Smoke-tests the binary at `path` on this machine: `version` prints
 * "agent …" (a full `deno` as DENORT_BIN would not), `check-config` accepts
 * the config install.sh writes, and `agent demo` (rsyslogd needed) ends in
 * "nothing lost". Then writes `path.smoked` with the binary's SHA-256, which
 * {@linkcode writeSums} requires.
 *
 * @throws {Error} naming the step that failed and its output.
 */
export async function smokeTest(path: string): Promise<void> {
  const version = await smokeStep(path, ["version"], 30_000);
  if (!version.startsWith("agent ")) {
    throw new Error(
      `smoke test: ${path}: "version" did not print "agent …": is its denort really a denort, not a full deno?`,
    );
  }
  const dir = await Deno.makeTempDir({ prefix: "agent-smoke-" });
  try {
    await Deno.writeTextFile(`${dir}/agent.json`, JSON.stringify(SMOKE_CONFIG, null, 2));
    await smokeStep(path, ["check-config", `${dir}/agent.json`], 30_000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const demo = await smokeStep(path, ["demo"], 180_000);
  if (!/^result: nothing lost/m.test(demo)) {
    throw new Error(`smoke test: ${path} demo: no "result: nothing lost" line:\n${demo}`);
  }
  await Deno.writeTextFile(`${path}.smoked`, `${await sha256(path)}\n`);
  console.log(`compile: ${path}: smoke test passed: ${version.trim().split("\n").join(", ")}`);
}

/** SHA-256 of a file, in hex. */
async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Writes `SHA256SUMS` for every `agent-<target>` in `dir`, in sha256sum's
 * format, and returns its text.
 *
 * @throws {Error} when a binary has no `.smoked` record of its current bytes
 *   (never smoke-tested, or changed since): nothing is written.
 */
export async function writeSums(dir: string): Promise<string> {
  const lines: string[] = [];
  const unsmoked: string[] = [];
  for (const target of TARGETS) {
    const path = `${dir}/agent-${target}`;
    try {
      await Deno.stat(path);
    } catch {
      continue;
    }
    const sum = await sha256(path);
    const smoked = await Deno.readTextFile(`${path}.smoked`).catch(() => "");
    if (smoked.trim() !== sum) unsmoked.push(`agent-${target}`);
    lines.push(`${sum}  agent-${target}`);
  }
  if (unsmoked.length > 0) {
    throw new Error(
      `no SHA256SUMS written: ${
        unsmoked.join(", ")
      } not smoke-tested as built (no matching .smoked): ` +
        `run \`deno task compile --smoke ${dir}/NAME\` on a machine of its architecture, then \`deno task compile --sums ${dir}\``,
    );
  }
  if (lines.length === 0) throw new Error(`no SHA256SUMS written: no agent-<target> in ${dir}`);
  const text = lines.map((l) => l + "\n").join("");
  await Deno.writeTextFile(`${dir}/SHA256SUMS`, text);
  return text;
}

/**
 * The ed25519 signature of `data` by the private key `pem` (PKCS#8 PEM, as
 * `openssl genpkey -algorithm ed25519` writes): 64 bytes, the same as
 * `openssl pkeyutl -sign -rawin`, which install.sh checks with
 * `openssl pkeyutl -verify -rawin`.
 *
 * @throws {Error} when `pem` is not an ed25519 private key.
 */
export async function signSums(data: Uint8Array, pem: string): Promise<Uint8Array> {
  const m = /-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\s]+)-----END PRIVATE KEY-----/.exec(pem);
  if (m === null || m[1] === undefined) {
    throw new Error(
      'signing key: expected a PEM "PRIVATE KEY" (openssl genpkey -algorithm ed25519)',
    );
  }
  const der = Uint8Array.from(atob(m[1].replace(/\s+/g, "")), (c) => c.charCodeAt(0));
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey("pkcs8", der, { name: "Ed25519" }, false, ["sign"]);
  } catch (e) {
    throw new Error(
      `signing key: not an ed25519 private key (${e instanceof Error ? e.message : e})`,
    );
  }
  return new Uint8Array(await crypto.subtle.sign("Ed25519", key, data as Uint8Array<ArrayBuffer>));
}

/** Writes `dir/SHA256SUMS`, and `dir/SHA256SUMS.sig` when a key file is given. */
async function writeSignedSums(dir: string, keyFile: string | undefined): Promise<void> {
  await Deno.remove(`${dir}/SHA256SUMS.sig`).catch(() => {});
  const sums = await writeSums(dir);
  console.log(`compile: ${dir}/SHA256SUMS:\n${sums.trimEnd()}`);
  if (keyFile === undefined) {
    console.log(
      `compile: not signed (no --signing-key or SIGNING_KEY): install.sh refuses ${dir}/SHA256SUMS without SHA256SUMS.sig`,
    );
    return;
  }
  const sig = await signSums(new TextEncoder().encode(sums), await Deno.readTextFile(keyFile));
  await Deno.writeFile(`${dir}/SHA256SUMS.sig`, sig);
  console.log(`compile: ${dir}/SHA256SUMS.sig: signed with ${keyFile}`);
}

function usage(message: string): never {
  console.error(
    `compile: ${message}; usage: deno task compile [--target ${
      TARGETS.join("|")
    }]... [--out DIR] [--signing-key FILE]; deno task compile --smoke BINARY; deno task compile --sums DIR [--signing-key FILE]`,
  );
  Deno.exit(2);
}

async function main(args: string[]): Promise<number> {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const targets: Target[] = [];
  let out = `${root}dist`;
  let keyFile = Deno.env.get("SIGNING_KEY") || undefined;
  let smoke: string | undefined;
  let sumsDir: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = args[i + 1];
    if (arg === "--target" && value !== undefined) {
      const t = TARGETS.find((t) => t === value);
      if (t === undefined) usage(`unknown target "${value}"`);
      if (!targets.includes(t)) targets.push(t);
      i++;
    } else if (arg === "--out" && value !== undefined) {
      out = value;
      i++;
    } else if (arg === "--signing-key" && value !== undefined) {
      keyFile = value;
      i++;
    } else if (arg === "--smoke" && value !== undefined) {
      smoke = value;
      i++;
    } else if (arg === "--sums" && value !== undefined) {
      sumsDir = value;
      i++;
    } else {
      usage(`unexpected argument "${arg}"`);
    }
  }
  if (keyFile !== undefined) await Deno.stat(keyFile); // fail before a long build
  if (smoke !== undefined) {
    await smokeTest(smoke);
    return 0;
  }
  if (sumsDir !== undefined) {
    await writeSignedSums(sumsDir, keyFile);
    return 0;
  }
  if (targets.length === 0) targets.push(...TARGETS);

  const denorts = await findDenorts(targets);
  const problems = [...denorts].filter(([, d]) => typeof d === "string");
  if (problems.length > 0) {
    for (const [target, problem] of problems) console.error(`compile: ${target}: ${problem}`);
    console.error(`compile: nothing was built`);
    return 1;
  }
  await Deno.mkdir(out, { recursive: true });
  for (const [target, denort] of denorts) {
    if (typeof denort === "string") continue;
    const where = denort.kind === "file"
      ? `${denort.from}=${denort.path}`
      : denort.kind === "cache"
      ? denort.path
      : denort.url;
    console.log(`compile: ${target}: denort from ${where}`);
    const output = `${out}/agent-${target}`;
    await Deno.remove(`${output}.smoked`).catch(() => {});
    await compileOne(root, target, denort, output);
    const { size } = await Deno.stat(output);
    console.log(`compile: ${output}: ${(size / 1024 / 1024).toFixed(1)} MiB`);
    if (target === Deno.build.target) {
      try {
        await smokeTest(output);
      } catch (e) {
        await Deno.remove(output).catch(() => {});
        throw e;
      }
    } else {
      console.log(
        `compile: ${output}: not smoke-tested (cross-built; this is ${Deno.build.target}): ` +
          `run \`deno task compile --smoke ${output}\` on ${
            archOf(target)
          }, then \`deno task compile --sums ${out}\``,
      );
    }
  }
  try {
    await writeSignedSums(out, keyFile);
  } catch (e) {
    console.error(`compile: ${e instanceof Error ? e.message : e}`);
    return 1;
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`compile: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
