import assert from "node:assert/strict";
import { checkConfig } from "./check_config.ts";
import { configPath } from "../config/config_path.ts";

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
  const path = await file('{\n  "log": {"level": "info",}\n}');
  assert.deepEqual(await check(path), [2, [
    `config: ${path}: invalid JSON at line 2 column 27: Expected double-quoted property name`,
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
