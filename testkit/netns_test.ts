import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { parseProcNetTcp, TCP_ESTABLISHED, TCP_LISTEN } from "./netns.ts";
import { collectorConfAt } from "./netns_collector.ts";
import { collectorConf } from "./rsyslog_conf.ts";

const HEADER =
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";

Deno.test("parseProcNetTcp: addresses in host byte order, ports, states, inodes", () => {
  const rows = parseProcNetTcp([
    HEADER,
    "   0: 0200007F:0202 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0",
    "   1: 0100007F:9C41 0300007F:0202 01 00000000:00000000 00:00000000 00000000     0        0 222 1 0",
    "   2: garbage",
    "",
  ].join("\n"));
  assertEquals(rows, [
    {
      localAddress: "127.0.0.2",
      localPort: 514,
      remoteAddress: "0.0.0.0",
      remotePort: 0,
      state: TCP_LISTEN,
      inode: "111",
    },
    {
      localAddress: "127.0.0.1",
      localPort: 40001,
      remoteAddress: "127.0.0.3",
      remotePort: 514,
      state: TCP_ESTABLISHED,
      inode: "222",
    },
  ]);
});

Deno.test("collectorConfAt: collectorConf bound to another address", () => {
  const c = { port: 514, dir: "/tmp/c", file: "/tmp/c/received.log" };
  const conf = collectorConfAt("127.0.0.3", c);
  assert(conf.includes(`input(type="imtcp" address="127.0.0.3" port="514"`));
  assertEquals(conf.replace(`address="127.0.0.3"`, `address="127.0.0.1"`), collectorConf(c));
  throws(() => collectorConfAt("collectors.test", c), /IPv4/);
});
