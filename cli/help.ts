/**
 * `agent help`.
 *
 * @module
 */

const USAGE: Record<string, string> = {
  run: `agent run [--config PATH] [--dev]
  Run in the foreground (what systemd starts). The config is PATH, else
  $SYSLOG_AGENT_CONFIG, else /etc/syslog-agent/agent.json. --dev uses an embedded
  config that needs no root: inputs on 127.0.0.1:5514, collector 127.0.0.1:10514,
  spool and control socket under ./.state. Stops cleanly on SIGTERM or SIGINT.`,
  "check-config": `agent check-config [PATH]
  Validate a config file. Exit 0 when valid, 2 with one line per problem otherwise.`,
  version: `agent version
  Print the agent's version, the Deno version and the build target.`,
  help: `agent help [COMMAND]
  Show usage, of one command or of all.`,
};

/** The usage of `command`, or of every command; undefined for an unknown command. */
export function help(command?: string): string | undefined {
  if (command !== undefined) return USAGE[command];
  return `agent: keeps syslog flowing: relays local syslog to collectors with a durable spool.

Usage:
${Object.values(USAGE).map((u) => "  " + u.split("\n")[0]).join("\n")}

Exit codes: 0 success; 1 runtime failure; 2 usage or config error.
Run "agent help COMMAND" for details.`;
}
