/**
 * The `agent` command line. The only place that calls `Deno.exit`.
 *
 * @module
 */

import { ConfigError, configPath, loadConfig } from "./config/mod.ts";
import {
  checkConfig,
  demo,
  type FlagKinds,
  help,
  parseFlags,
  reloadCommand,
  rotateCommand,
  run,
  spoolCommand,
  statusCommand,
  tapCommand,
} from "./cli/mod.ts";
import { errorLine, errorText, VERSION } from "./ground/mod.ts";

function usageError(message: string): never {
  console.error(errorLine(`agent: ${message}; see "agent help"`));
  Deno.exit(2);
}

async function main(args: string[]): Promise<number> {
  const [command = "help", ...rest] = args;
  const parse = <const K extends FlagKinds>(kinds: K, positionals = 0) => {
    try {
      const parsed = parseFlags(rest, kinds);
      if (parsed.positionals.length > positionals) {
        usageError(`${command}: unexpected argument "${parsed.positionals[positionals]}"`);
      }
      return parsed;
    } catch (e) {
      usageError(`${command}: ${errorText(e)}`);
    }
  };
  switch (command) {
    case "run": {
      const { values } = parse({ config: "string", dev: "boolean" });
      const opts: { config?: string; dev?: boolean } = {};
      if (typeof values.config === "string") opts.config = values.config;
      if (values.dev === true) opts.dev = true;
      return await run(opts);
    }
    case "status": {
      const { values } = parse({
        json: "boolean",
        watch: "boolean",
        socket: "string",
        config: "string",
      });
      if (values.json && values.watch) usageError("status: --json and --watch do not go together");
      const abort = new AbortController();
      if (values.watch) Deno.addSignalListener("SIGINT", () => abort.abort());
      return await statusCommand({
        socket: await controlSocket(values.socket, values.config),
        json: values.json === true,
        watch: values.watch === true,
        signal: abort.signal,
      });
    }
    case "reload": {
      const { values } = parse({ socket: "string", config: "string" });
      return await reloadCommand(await controlSocket(values.socket, values.config));
    }
    case "rotate": {
      const { values } = parse({ socket: "string", config: "string" });
      return await rotateCommand(await controlSocket(values.socket, values.config));
    }
    case "tap": {
      const { values } = parse({
        input: "string",
        collector: "string",
        grep: "string",
        regex: "string",
        limit: "string",
        json: "boolean",
        socket: "string",
        config: "string",
      });
      if (values.grep !== undefined && values.regex !== undefined) {
        usageError("tap: --grep and --regex do not go together");
      }
      const limit = values.limit === undefined ? undefined : Number(values.limit);
      if (limit !== undefined && !(Number.isSafeInteger(limit) && limit > 0)) {
        usageError(`tap: --limit: expected a positive integer, got "${values.limit}"`);
      }
      const match = values.regex ?? values.grep;
      const abort = new AbortController();
      Deno.addSignalListener("SIGINT", () => abort.abort());
      return await tapCommand({
        socket: await controlSocket(values.socket, values.config),
        request: {
          ...(typeof values.input === "string" ? { input: values.input } : {}),
          ...(typeof values.collector === "string" ? { collector: values.collector } : {}),
          ...(typeof match === "string" ? { match } : {}),
          ...(values.regex !== undefined ? { regex: true } : {}),
          ...(limit === undefined ? {} : { limit }),
        },
        json: values.json === true,
        signal: abort.signal,
      });
    }
    case "spool": {
      const { values, positionals } = parse({
        dir: "string",
        socket: "string",
        config: "string",
        json: "boolean",
        tail: "string",
        grep: "string",
        all: "boolean",
        "dead-letter": "boolean",
        "from-head": "boolean",
      }, 1);
      const action = positionals[0];
      if (action !== "stat" && action !== "cat" && action !== "verify") {
        usageError(`spool: expected stat, cat or verify, got ${JSON.stringify(action ?? "")}`);
      }
      if (action !== "cat") {
        for (const k of ["tail", "grep", "all", "dead-letter", "from-head"] as const) {
          if (values[k] !== undefined) usageError(`spool: --${k} goes with cat only`);
        }
      }
      const tail = values.tail === undefined ? undefined : Number(values.tail);
      if (tail !== undefined && !(Number.isSafeInteger(tail) && tail > 0)) {
        usageError(`spool: --tail: expected a positive integer, got "${values.tail}"`);
      }
      if (tail !== undefined && values["from-head"]) {
        usageError("spool: --tail and --from-head do not go together");
      }
      let grep: RegExp | undefined;
      try {
        grep = typeof values.grep === "string" ? new RegExp(values.grep) : undefined;
      } catch (e) {
        usageError(`spool: --grep: ${errorText(e)}`);
      }
      const config = await loadConfig(
        configPath(typeof values.config === "string" ? values.config : undefined),
      ).catch(() => undefined);
      return await spoolCommand({
        action,
        socket: typeof values.socket === "string"
          ? values.socket
          : config?.control.socket ?? "/run/syslog-agent/agent.sock",
        ...(typeof values.dir === "string" ? { dir: values.dir } : {}),
        fallbackDir: config?.spool.dir ?? "/var/spool/syslog-agent",
        json: values.json === true,
        ...(tail === undefined ? {} : { tail }),
        ...(grep === undefined ? {} : { grep }),
        all: values.all === true,
        deadLetter: values["dead-letter"] === true,
      });
    }
    case "demo":
      parse({});
      return await demo();
    case "check-config": {
      const { positionals } = parse({}, 1);
      return await checkConfig(positionals[0], (line) => console.error(line));
    }
    case "version":
      parse({});
      console.log(`agent ${VERSION}\ndeno ${Deno.version.deno}\ntarget ${Deno.build.target}`);
      return 0;
    case "help":
    case "--help":
    case "-h": {
      const { positionals } = parse({}, 1);
      const text = help(positionals[0]);
      if (text === undefined) usageError(`help: unknown command "${positionals[0]}"`);
      console.log(text);
      return 0;
    }
    default:
      usageError(`unknown command "${command}"`);
  }
}

/**
 * The control socket to talk to: `--socket`, else the one in the config
 * (`--config`, `$SYSLOG_AGENT_CONFIG` or the default path) when it can be read,
 * else the default.
 */
async function controlSocket(socket: unknown, config: unknown): Promise<string> {
  if (typeof socket === "string") return socket;
  try {
    return (await loadConfig(configPath(typeof config === "string" ? config : undefined)))
      .control.socket;
  } catch {
    return "/run/syslog-agent/agent.sock";
  }
}

// A fatal error under systemd (a bad config at start, exit 2, which the unit's
// RestartPreventExitStatus=2 does not restart) goes to the journal as err.
if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    if (e instanceof ConfigError) {
      for (const line of e.problems) console.error(errorLine(line));
      Deno.exit(2);
    }
    // The control client's UnreachableError (by name: its module is loaded only by the commands
    // that talk to the agent).
    if (e instanceof Error && e.name === "UnreachableError") {
      console.error(errorLine(e.message));
      Deno.exit(3);
    }
    console.error(errorLine(`agent: ${errorText(e)}`));
    Deno.exit(1);
  }
}
