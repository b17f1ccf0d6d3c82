import assert from "node:assert/strict";
import { checkConfig } from "./check_config.ts";
import { configPath } from "../config/mod.ts";

/** Runs `checkConfig` and returns its exit code and lines. */
async function check(path: string | undefined): Promise<[number, string[]]> {
  const lines: string[] = [];
  const code = await checkConfig(path, (line) => lines.push(line));
  return [code, lines];
}

/** Writes `text` to a fresh temporary file and returns its path. */
async function file(text: string): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(path, text);
  return path;
}

/** Runs `body` with SYSLOG_AGENT_CONFIG set to `value` (unset for undefined). */
async function withEnv(value: string | undefined, body: () => void | Promise<void>): Promise<void> {
  const saved = Deno.env.get("SYSLOG_AGENT_CONFIG");
  if (value === undefined) Deno.env.delete("SYSLOG_AGENT_CONFIG");
  else Deno.env.set("SYSLOG_AGENT_CONFIG", value);
  try {
    await body();
  } finally {
    if (saved === undefined) Deno.env.delete("SYSLOG_AGENT_CONFIG");
    else Deno.env.set("SYSLOG_AGENT_CONFIG", saved);
  }
}

Deno.test("check-config: a valid config is exit 0 and one ok line", async () => {
  const path = await file('{"collectors": [{"address": "10.0.0.5:514"}]}');
  assert.deepEqual(await check(path), [0, [`config: ${path}: ok`]]);
  await Deno.remove(path);
});

Deno.test("check-config: an invalid config is exit 2 and one line per problem", async () => {
  const path = await file(
    '{"collectors": [{"address": "logs"}], "spool": {"mode": "sometimes"}, "lgo": {}}',
  );
  assert.deepEqual(await check(path), [2, [
    'config: unknown key "lgo" (known: inputs, collectors, spool, rsyslogd, control, log)',
    'config: collectors[0].address: expected "host:port", got "logs"',
    'config: spool.mode: expected one of "fallback", "always", got "sometimes"',
  ]]);
  await Deno.remove(path);
});

Deno.test("check-config: a JSON syntax error names the file and position", async () => {
  // A trailing comma is allowed (as in deno.json); a missing colon is not.
  const path = await file('{\n  // comments too\n  "log": {"level" "info",}\n}');
  assert.deepEqual(await check(path), [2, [
    `config: ${path}: invalid JSON at line 3 column 19: Expected ':' after property name`,
  ]]);
  await Deno.remove(path);
});

Deno.test("check-config: a missing file is exit 2 with the path and the fix", async () => {
  const path = "/nonexistent/syslog-agent/agent.json";
  assert.deepEqual(await check(path), [2, [
    `config: ${path}: cannot read the config file (no such file); ` +
    'create it ("{}" uses every default) or pass another path with --config PATH',
  ]]);
});

Deno.test("check-config: without a path it reads SYSLOG_AGENT_CONFIG", async () => {
  const path = await file("{}");
  await withEnv(path, async () => {
    assert.deepEqual(await check(undefined), [0, [`config: ${path}: ok`]]);
  });
  await Deno.remove(path);
});

Deno.test("configPath: explicit path, then SYSLOG_AGENT_CONFIG, then the default", async () => {
  await withEnv("/env/agent.json", () => {
    assert.equal(configPath("/explicit.json"), "/explicit.json");
    assert.equal(configPath(), "/env/agent.json");
  });
  await withEnv("", () => {
    assert.equal(configPath(), "/etc/syslog-agent/agent.json");
  });
  await withEnv(undefined, () => {
    assert.equal(configPath(undefined), "/etc/syslog-agent/agent.json");
  });
});

const RUNS_A_COMMAND = JSON.stringify({
  rsyslogd: {
    mode: "child",
    command: ["/bin/sh", "-c", "id > /dev/null"],
    probe: { target: "none" },
  },
});

Deno.test("check-config: a config that runs commands and others can write is refused, naming the path, owner, mode and fix", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/agent.json`;
    await Deno.writeTextFile(path, RUNS_A_COMMAND);
    await Deno.chmod(path, 0o666);
    await Deno.chown(path, 65534, 65534);
    const [code, lines] = await check(path);
    assert.equal(code, 2);
    assert.equal(lines.length, 1);
    assert.match(
      lines[0]!,
      new RegExp(
        `^config: ${path}: refusing a config that makes the agent run commands .*: the file ${path} is owned by uid 65534 .*mode 0666.*; fix: chown root ${path}`,
      ),
    );
    // Root-owned, but writable by others: the same refusal, with the chmod to do.
    await Deno.chown(path, 0, 0);
    const [, [writable]] = await check(path);
    assert.match(
      writable!,
      new RegExp(`the file ${path} is owned by uid 0 .*mode 0666.*; fix: chmod go-w ${path}`),
    );
    // A directory above it that others can write (and not sticky) is as bad.
    await Deno.chmod(path, 0o644);
    await Deno.chmod(dir, 0o777);
    const [dirCode, [dirLine]] = await check(path);
    assert.equal(dirCode, 2);
    assert.match(
      dirLine!,
      new RegExp(`the directory ${dir} is owned by uid 0 .*mode 0777.*; fix: chmod go-w ${dir}`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check-config: a root-owned config in a sticky world-writable directory (/tmp) that runs commands is fine", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.chmod(dir, 0o1777);
    const path = `${dir}/agent.json`;
    await Deno.writeTextFile(path, RUNS_A_COMMAND);
    await Deno.chmod(path, 0o644);
    assert.deepEqual(await check(path), [0, [`config: ${path}: ok`]]);
    // Through a symlink, the file it points to is what is checked.
    await Deno.symlink(path, `${dir}/link.json`);
    assert.deepEqual(await check(`${dir}/link.json`), [0, [`config: ${dir}/link.json: ok`]]);
    await Deno.chmod(path, 0o666);
    const [code, [line]] = await check(`${dir}/link.json`);
    assert.equal(code, 2);
    assert.match(line!, new RegExp(`the file ${path} is owned by uid 0 .*mode 0666`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check-config: a config that runs no command may be writable by others", async () => {
  const path = await file('{"collectors": [{"address": "10.0.0.5:514"}]}');
  await Deno.chmod(path, 0o666);
  assert.deepEqual(await check(path), [0, [`config: ${path}: ok`]]);
  await Deno.remove(path);
});
