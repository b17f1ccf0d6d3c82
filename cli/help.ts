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
  status: `agent status [--json|--watch] [--socket P] [--config PATH]
  Health at a glance: state and reasons, rsyslogd, collectors, spool, rates.
  --json prints the status document; --watch redraws every second until Ctrl-C.
  Exit 0 ok, 1 degraded, 2 critical, 3 agent not reachable (a Nagios/Icinga check).`,
  reload: `agent reload [--socket P] [--config PATH]
  Re-read the config (same as SIGHUP to the agent). An invalid config is rejected
  with the reason and the running config stays (exit 1); 3 when not reachable.`,
  rotate: `agent rotate [--socket P] [--config PATH]
  For logrotate's postrotate: the agent sends rsyslogd SIGHUP, then proves it
  survived (same process alive, a canary back through rsyslogd); otherwise it
  restarts rsyslogd. Exit 0 when rsyslogd is healthy afterwards (a restart is
  reported on stderr), 1 when it is not, 3 when the agent is not reachable.`,
  tap: `agent tap [--input NAME] [--collector ADDRESS] [--grep TEXT|--regex RE] [--limit N] [--json]
  A live copy of the messages passing through, as they pass, until the limit or
  Ctrl-C: what the inputs receive (--input: one of them, by its name in status,
  like tcp:127.0.0.1:5514), or with --collector what is written to that collector
  (its address as in status). --grep keeps messages containing TEXT, --regex those
  matching RE. Raw messages, or --json lines (at, input or collector, size,
  message). The relay is never slowed: the tap keeps a small buffer of its own and
  skips what a slow terminal cannot take, and says how many at the end. Several
  taps may run at once. Root and the control group only. Exit 0; 1 when the agent
  refuses the tap (an unknown input or collector); 3 when it is not reachable.`,
  spool: `agent spool stat|cat|verify [--dir DIR] [--json] [--socket P] [--config PATH]
  Look into the spool without changing it: through the running agent (its files as
  far as it has written them, so nothing races the writer), or a stopped agent's
  directory (--dir, else the config's spool.dir).
  stat     segments, messages not yet delivered and their bytes, the oldest and the
           newest one's age, the checkpoint, dead letters, damage, stray files
  cat      print the messages not yet delivered, oldest first (--from-head, the
           default) or the last N (--tail N); --grep RE keeps those matching; --all
           adds delivered ones still in the files; --dead-letter prints the messages
           set aside instead; --json gives segment, offset, arrival and message
  verify   check every record's checksum, find torn tails and stray files; exit 0
           when clean, 1 when damage was found (each named, with its offset)`,
  "check-config": `agent check-config [PATH]
  Validate a config file. Exit 0 when valid, 2 with one line per problem otherwise.`,
  demo: `agent demo
  Replay the incident the agent exists for on this machine, in about 20 s, with
  real processes in a temp dir: logrotate's HUP kills rsyslogd (a stand-in that
  dies on SIGHUP) and the agent restarts it; the collector is SIGKILLed and the
  spool takes over; it comes back and the spool drains. Ends with a report; exit 0
  when nothing went missing, 1 otherwise or when rsyslogd is not installed.`,
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

Exit codes: 0 success; 1 degraded (status) or runtime failure; 2 usage or config
error (critical, for status); 3 agent not reachable.
Run "agent help COMMAND" for details.`;
}
