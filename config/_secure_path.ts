/**
 * Whether a file can be changed by someone other than root, as sshd's
 * StrictModes asks of its files.
 *
 * @module
 */

/**
 * What makes the file at `path` (absolute, symlinks resolved) changeable by
 * someone other than root or `uid` (the agent's own user): the file or a
 * directory above it owned by anyone else, or writable by group or others. A
 * directory writable by others is fine when it is sticky (like /tmp): only
 * an entry's owner (checked in turn) can remove or rename it there. Returns
 * one sentence ending with the fix, or undefined when only root (or `uid`)
 * can change it.
 */
export async function insecurity(path: string, uid: number): Promise<string | undefined> {
  const passwd = await Deno.readTextFile("/etc/passwd").catch(() => "");
  let entry = path;
  for (let what = "file";; what = "directory") {
    const info = await Deno.lstat(entry);
    const mode = (info.mode ?? 0) & 0o7777;
    const owner = info.uid ?? -1;
    const shown = `the ${what} ${entry} is owned by uid ${owner}${
      userName(passwd, owner)
    } with mode ${mode.toString(8).padStart(4, "0")}`;
    if (owner !== 0 && owner !== uid) {
      return `${shown}, so that user can change it; fix: chown root ${entry}`;
    }
    const sticky = what === "directory" && (mode & 0o1000) !== 0;
    if ((mode & 0o022) !== 0 && !sticky) {
      return `${shown}, so its group or others can change it; fix: chmod go-w ${entry}`;
    }
    if (entry === "/") return undefined;
    entry = entry.slice(0, entry.lastIndexOf("/")) || "/";
  }
}

/** ` (name)` of `uid` in /etc/passwd, or `""`. */
function userName(passwd: string, uid: number): string {
  for (const line of passwd.split("\n")) {
    const [name, , id] = line.split(":");
    if (id === String(uid) && name) return ` (${name})`;
  }
  return "";
}
