/**
 * The "application" of `agent demo`: logs sequence-numbered messages at a
 * steady rate into rsyslogd's socket, as syslog(3) does into /dev/log, and
 * measures how long it had to wait (a testkit `UnixDgramSender`).
 *
 * @module
 */

import { dgramMessage, UnixDgramSender } from "../testkit/mod.ts";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/** A message that cannot be sent for this long stops the application. */
const GIVE_UP_MS = 15_000;

/** The program name the demo's messages carry. */
export const APP_TAG = "demo-app";

/**
 * Sends `<14>Mmm dd hh:mm:ss demo-app[PID]: seq=NNNNNNNN …` datagrams to the
 * unix socket `target` at `rate` per second, numbered from 0, from a socket
 * bound at `own`, until stopped. A send refused because nobody listens there
 * (the socket is gone while rsyslogd restarts) is retried every 5 ms: a real
 * syslog(3) call would lose that message, this application keeps it, so that
 * what goes missing later is the logging chain's doing.
 */
export function demoApp(target: string, own: string, rate: number): UnixDgramSender {
  return new UnixDgramSender({
    target,
    own,
    ratePerSec: rate,
    message,
    retryForMs: GIVE_UP_MS,
  });
}

/** What syslog(3) would write for message `seq`, timestamped now. */
function message(seq: number): string {
  const d = new Date();
  const p2 = (n: number) => String(n).padStart(2, "0");
  const time = `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ${
    p2(d.getHours())
  }:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
  return dgramMessage(seq, APP_TAG, {
    priority: 14,
    time,
    text: "the application logs, whatever happens downstream",
  });
}
