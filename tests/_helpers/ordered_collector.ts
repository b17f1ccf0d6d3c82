/**
 * An rsyslogd TCP collector that writes messages in the order they arrived,
 * for tests that assert order. The default test collector (collector.ts)
 * runs its ruleset on rsyslog's main queue, whose worker threads each take
 * batches of 256 messages: under a burst of a few hundred thousand messages
 * a second worker starts, and two batches can reach the file swapped. Here
 * the ruleset runs on a Direct queue: each message is written by the thread
 * that read it from its connection.
 *
 * @module
 */

import { RsyslogCollector } from "./relp_rsyslogd.ts";

/** The config: imtcp on 127.0.0.1:`c.port`, `%rawmsg%` one per line to `c.file`, in order. */
export function orderedCollectorConf(c: { port: number; dir: string; file: string }): string {
  return `# ordered collector written by tests/_helpers/ordered_collector.ts
global(
  workDirectory=${q(c.dir)}
  maxMessageSize="256k"
  parser.escapeControlCharactersOnReceive="off"
  net.enableDNS="off"
)
module(load="imtcp" maxFrameSize="262144" maxSessions="1000")
template(name="collector_raw" type="string" string="%rawmsg%\\n")
ruleset(name="collector" queue.type="Direct") {
  action(type="omfile" file=${q(c.file)} template="collector_raw"
         asyncWriting="off" flushOnTXEnd="on")
}
input(type="imtcp" address="127.0.0.1" port="${c.port}" ruleset="collector")
`;
}

/** Starts an ordered collector in `dir` (created) on a free port. */
export function startOrderedCollector(dir: string): Promise<RsyslogCollector> {
  return RsyslogCollector.start(dir, orderedCollectorConf);
}

function q(value: string): string {
  return `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}
