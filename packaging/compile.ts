/**
 * `deno task compile [--target TARGET]... [--out DIR]`: builds the single
 * `agent` binary with `deno compile` for x86_64 and aarch64 Linux into
 * `dist/agent-<target>`, and writes `dist/SHA256SUMS` (sha256sum format) for
 * what is there. install.sh downloads exactly these names.
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
 * The permissions and flags baked into the binary. Scoping them to paths or
 * hosts is not possible: the config, spool, control socket and collectors are
 * the operator's choice (and `--allow-run` of an operator-chosen rsyslogd or
 * restart command is as strong as root anyway). The fence around the agent is
 * the systemd unit's sandbox (packaging/systemd/syslog-agent.service); what
 * is left out here (ffi, import) stays denied, and nothing ever prompts.
 */
export const COMPILE_FLAGS: readonly string[] = [
  "--allow-net", // inputs, collectors, metrics, control socket
  "--allow-read", // config, spool, pid files, /etc/group
  "--allow-write", // spool, control socket
  "--allow-run", // a child rsyslogd, its restart command (systemctl)
  "--allow-env", // SYSLOG_AGENT_CONFIG, NOTIFY_SOCKET, WATCHDOG_USEC, JOURNAL_STREAM
  "--allow-sys", // OS facts (Deno.hostname, node:os) for status, logs and the canary
  "--unstable-net", // UDP input, sd_notify datagrams
  "--no-prompt",
  "--no-remote",
  "--no-npm",
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

/** Checks that a binary built for this machine runs the agent (a full `deno` as DENORT_BIN would not). */
async function smokeTest(path: string, target: Target): Promise<void> {
  if (target !== Deno.build.target) return;
  const out = await new Deno.Command(path, {
    args: ["version"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success || !text.startsWith("agent ")) {
    throw new Error(
      `${path}: "version" did not print "agent …" (exit ${out.code}): is its denort really a denort, not a full deno?`,
    );
  }
  console.log(`compile: ${path}: ${text.trim().split("\n").join(", ")}`);
}

/** SHA-256 of a file, in hex. */
async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Writes `SHA256SUMS` for every `agent-<target>` in `dir`, in sha256sum's format. */
export async function writeSums(dir: string): Promise<string> {
  const lines: string[] = [];
  for (const target of TARGETS) {
    const path = `${dir}/agent-${target}`;
    try {
      await Deno.stat(path);
    } catch {
      continue;
    }
    lines.push(`${await sha256(path)}  agent-${target}`);
  }
  const text = lines.map((l) => l + "\n").join("");
  await Deno.writeTextFile(`${dir}/SHA256SUMS`, text);
  return text;
}

function usage(message: string): never {
  console.error(
    `compile: ${message}; usage: deno task compile [--target ${TARGETS.join("|")}]... [--out DIR]`,
  );
  Deno.exit(2);
}

async function main(args: string[]): Promise<number> {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const targets: Target[] = [];
  let out = `${root}dist`;
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
    } else {
      usage(`unexpected argument "${arg}"`);
    }
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
    await compileOne(root, target, denort, output);
    try {
      await smokeTest(output, target);
    } catch (e) {
      await Deno.remove(output).catch(() => {});
      throw e;
    }
    const { size } = await Deno.stat(output);
    console.log(`compile: ${output}: ${(size / 1024 / 1024).toFixed(1)} MiB`);
  }
  const sums = await writeSums(out);
  console.log(`compile: ${out}/SHA256SUMS:\n${sums.trimEnd()}`);
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
