/**
 * `deno task embed`: copies the systemd unit, the rsyslog snippets (both hops,
 * the probe socket, the journal socket), the journald drop-in and the logrotate
 * files from `packaging/` into `install.sh`. The installer is piped from
 * curl, so it cannot read them from the repository: it carries them as
 * here-documents, which must stay byte-identical to the files (a test installs
 * into a temporary root and compares). `--check` changes nothing and exits 1
 * when `install.sh` is out of date.
 *
 * Each copy sits between two marker lines in `install.sh`:
 *
 * ```sh
 * # >>> embedded packaging/systemd/syslog-agent.service (…)
 * emit_unit() {
 *   cat <<'SYSLOG_AGENT_EOF'
 * …the file…
 * SYSLOG_AGENT_EOF
 * }
 * # <<< embedded packaging/systemd/syslog-agent.service
 * ```
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** The here-document delimiter; no embedded file may contain it as a line. */
export const DELIMITER = "SYSLOG_AGENT_EOF";

/** Each embedded file, relative to the repository, and the shell function that prints it. */
export const EMBEDDED: readonly { path: string; fn: string }[] = [
  { path: "packaging/systemd/syslog-agent.service", fn: "emit_unit" },
  { path: "packaging/rsyslog/90-syslog-agent.conf", fn: "emit_rsyslog_tcp" },
  { path: "packaging/rsyslog/90-syslog-agent-relp.conf", fn: "emit_rsyslog_relp" },
  { path: "packaging/rsyslog/91-syslog-agent-probe.conf", fn: "emit_rsyslog_probe" },
  { path: "packaging/rsyslog/89-syslog-agent-journal.conf", fn: "emit_rsyslog_journal" },
  { path: "packaging/journald/syslog-agent.conf", fn: "emit_journald_dropin" },
  { path: "packaging/logrotate/syslog-agent", fn: "emit_logrotate" },
  { path: "packaging/logrotate/logrotate.service.conf", fn: "emit_logrotate_dropin" },
];

/**
 * Returns `script` with every embedded region refilled from `read(path)`.
 *
 * @throws {Error} when a region's markers are missing, or a file does not end
 *   in a newline or holds the delimiter line (a here-document could not carry
 *   it byte for byte).
 */
export function embed(script: string, read: (path: string) => string): string {
  let out = script;
  for (const { path, fn } of EMBEDDED) {
    const content = read(path);
    if (content.length > 0 && !content.endsWith("\n")) {
      throw new Error(`${path}: must end with a newline to be embedded byte for byte`);
    }
    if (content.split("\n").includes(DELIMITER)) {
      throw new Error(`${path}: holds the line ${DELIMITER}, which ends the here-document`);
    }
    const begin = `# >>> embedded ${path} `;
    const end = `# <<< embedded ${path}\n`;
    const start = out.indexOf(begin);
    const stop = out.indexOf(end, start);
    if (start < 0 || stop < 0) {
      throw new Error(`install.sh: no "# >>> embedded ${path}" … "${end.trim()}" markers`);
    }
    const headerEnd = out.indexOf("\n", start) + 1;
    const body = `${fn}() {\n  cat <<'${DELIMITER}'\n${content}${DELIMITER}\n}\n`;
    out = out.slice(0, headerEnd) + body + out.slice(stop);
  }
  return out;
}

if (import.meta.main) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const scriptPath = `${root}install.sh`;
  const check = Deno.args.includes("--check");
  const script = Deno.readTextFileSync(scriptPath);
  let updated: string;
  try {
    updated = embed(script, (path) => Deno.readTextFileSync(`${root}${path}`));
  } catch (e) {
    console.error(`embed: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
  if (updated === script) {
    console.log("embed: install.sh is up to date");
  } else if (check) {
    console.error("embed: install.sh is out of date with packaging/: run `deno task embed`");
    Deno.exit(1);
  } else {
    Deno.writeTextFileSync(scriptPath, updated);
    console.log("embed: install.sh updated from packaging/");
  }
}
