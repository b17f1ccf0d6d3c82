/**
 * syslog-ng (the second peer) and its `loggen` load generator, used without
 * installing them: Debian's syslog-ng-core and the libraries this machine
 * lacks are fetched with `apt-get download` and unpacked with `dpkg -x` into
 * a cache dir (syslog-ng-core cannot be installed beside rsyslog).
 *
 * @module
 */

import { capture } from "../testkit/mod.ts";

/** Debian packages unpacked into the prefix: syslog-ng-core and the libraries it links that a plain rsyslog host lacks. */
export const SYSLOG_NG_PACKAGES = [
  "syslog-ng-core",
  "libivykis0",
  "libnet1",
  "libpcre3",
  "libwrap0",
] as const;

/** A usable unpacked syslog-ng. */
export interface SyslogNgInstall {
  /** The unpacked root (holds usr/, lib/, etc/). */
  readonly root: string;
  /** Path of the syslog-ng daemon. */
  readonly syslogNg: string;
  /** Path of loggen. */
  readonly loggen: string;
  /** Environment both need: LD_LIBRARY_PATH and SYSLOGNG_PREFIX. */
  readonly env: Record<string, string>;
  /** `syslog-ng --version`'s first line. */
  readonly version: string;
}

/** The result of {@link ensureSyslogNg}: an install, or why there is none. */
export type SyslogNgResult =
  | { readonly ok: true; readonly install: SyslogNgInstall }
  | { readonly ok: false; readonly reason: string };

/**
 * Makes syslog-ng usable from `cacheDir` (downloading and unpacking on first
 * use, reusing the unpacked tree after that) and proves that both binaries
 * run. Never throws: failures come back as `{ ok: false, reason }`.
 */
export async function ensureSyslogNg(cacheDir: string): Promise<SyslogNgResult> {
  const root = `${cacheDir}/syslog-ng`;
  const marker = `${root}/.unpacked`;
  try {
    if (!(await exists(marker))) {
      await unpack(cacheDir, root);
      await Deno.writeTextFile(marker, SYSLOG_NG_PACKAGES.join("\n") + "\n");
    }
    const libDirs = [
      `${root}/usr/lib/x86_64-linux-gnu`,
      `${root}/lib/x86_64-linux-gnu`,
      `${root}/usr/lib/syslog-ng`,
    ];
    const env = {
      LD_LIBRARY_PATH: [...libDirs, Deno.env.get("LD_LIBRARY_PATH") ?? ""].filter((s) => s)
        .join(":"),
      SYSLOGNG_PREFIX: `${root}/usr`,
    };
    const syslogNg = `${root}/usr/sbin/syslog-ng`;
    const loggen = `${root}/usr/bin/loggen`;
    const modules = await moduleFiles(`${root}/usr/lib/syslog-ng`);
    const missing = await missingLibraries([syslogNg, loggen, ...modules], env);
    if (missing.length > 0) {
      return { ok: false, reason: `unresolved shared libraries: ${missing.join(", ")}` };
    }
    const version = (await capture(syslogNg, ["--version"], env)).split("\n")[0] ?? "";
    await capture(loggen, ["--help"], env);
    return { ok: true, install: { root, syslogNg, loggen, env, version } };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

/** Downloads the packages into `<cacheDir>/debs` and unpacks them into `root`. */
async function unpack(cacheDir: string, root: string): Promise<void> {
  const debs = `${cacheDir}/debs`;
  await Deno.mkdir(debs, { recursive: true });
  const download = (): Promise<Deno.CommandOutput> =>
    new Deno.Command("apt-get", {
      args: ["download", ...SYSLOG_NG_PACKAGES],
      cwd: debs,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  let out = await download();
  if (!out.success) {
    // the package lists may be missing or stale on a fresh machine
    await new Deno.Command("apt-get", { args: ["update", "-qq"], stdout: "null", stderr: "null" })
      .output();
    out = await download();
  }
  if (!out.success) {
    throw new Error(
      `apt-get download ${SYSLOG_NG_PACKAGES.join(" ")} failed: ${
        new TextDecoder().decode(out.stderr).trim().split("\n").slice(-2).join(" ")
      }`,
    );
  }
  await Deno.remove(root, { recursive: true }).catch(() => {});
  await Deno.mkdir(root, { recursive: true });
  for await (const entry of Deno.readDir(debs)) {
    if (entry.name.endsWith(".deb")) await capture("dpkg", ["-x", `${debs}/${entry.name}`, root]);
  }
}

/** Libraries `ldd` cannot resolve for the given binaries, with `env` applied. */
async function missingLibraries(
  binaries: string[],
  env: Record<string, string>,
): Promise<string[]> {
  const missing = new Set<string>();
  for (const bin of binaries) {
    const text = await capture("ldd", [bin], env);
    for (const line of text.split("\n")) {
      const m = /^\s*(\S+) => not found/.exec(line);
      if (m?.[1] !== undefined) missing.add(m[1]);
    }
  }
  return [...missing];
}

/** The plugins the bench relies on (socket drivers, disk-buffer, loggen's socket plugin). */
async function moduleFiles(moduleRoot: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(moduleRoot)) {
    if (!entry.isDirectory || !/^\d+\.\d+$/.test(entry.name)) continue;
    const dir = `${moduleRoot}/${entry.name}`;
    for (
      const name of [
        "libafsocket.so",
        "libdisk-buffer.so",
        "libsyslogformat.so",
        "loggen/libloggen_socket_plugin.so",
      ]
    ) {
      if (await exists(`${dir}/${name}`)) out.push(`${dir}/${name}`);
    }
  }
  if (out.length === 0) throw new Error(`no syslog-ng modules found under ${moduleRoot}`);
  return out;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
