import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import type { InputConfig } from "../config/mod.ts";
import { Logger } from "../ground/mod.ts";
import { Counters } from "./counters.ts";
import { StreamInput } from "./stream_input.ts";

const log = new Logger({ level: "error", format: "text", journal: false, write: () => {} });
const sink = { frames() {}, message() {} };

function unixInput(path: string): StreamInput {
  const cfg: InputConfig = {
    type: "unix",
    path,
    maxMessageSize: 1024,
    maxConnections: 4,
    idleTimeoutMs: 60_000,
  };
  return new StreamInput(cfg, sink, new Counters(), log);
}

Deno.test("unix input: a symlink at its path is refused, not followed: the file it names keeps its mode", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const target = `${dir}/shadow`;
    await Deno.writeTextFile(target, "secret");
    await Deno.chmod(target, 0o600);
    const path = `${dir}/log.sock`;
    await Deno.symlink(target, path);
    let error = "";
    await unixInput(path).listen().catch((e) => error = e.message);
    assert(
      new RegExp(
        `^input unix:${path}: cannot listen: it is a symbolic link, not a socket; remove it or change inputs\\[\\]\\.path$`,
      )
        .test(error),
      error,
    );
    assertEquals((await Deno.stat(target)).mode! & 0o777, 0o600);
    assertEquals(await Deno.readTextFile(target), "secret");
    assert((await Deno.lstat(path)).isSymlink);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unix input: a regular file at its path is refused and kept; a stale socket is replaced (mode 0666)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/log.sock`;
    await Deno.writeTextFile(path, "data");
    let error = "";
    await unixInput(path).listen().catch((e) => error = e.message);
    assert(/cannot listen: it is a regular file, not a socket/.test(error), error);
    assertEquals(await Deno.readTextFile(path), "data");
    await Deno.remove(path);
    await staleSocket(path);
    const input = unixInput(path);
    await input.listen();
    try {
      const info = await Deno.lstat(path);
      assert(info.isSocket);
      assertEquals(info.mode! & 0o777, 0o666);
      (await Deno.connect({ transport: "unix", path })).close();
    } finally {
      input.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Leaves a socket file at `path` that nothing listens on, as a killed process does. */
async function staleSocket(path: string): Promise<void> {
  const listener = Deno.listen({ transport: "unix", path: `${path}.tmp` });
  await Deno.rename(`${path}.tmp`, path);
  listener.close();
}
