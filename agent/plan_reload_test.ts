import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { parseConfig } from "../config/mod.ts";
import { planReload } from "./plan_reload.ts";

const cfg = (json: unknown) => parseConfig(JSON.stringify(json), "test");
const tcp = { type: "tcp", address: "127.0.0.1:5514" };
const udp = { type: "udp", address: "127.0.0.1:5514" };
const relp = { type: "relp", address: "127.0.0.1:2514" };

Deno.test("planReload: the same config changes nothing", () => {
  const c = cfg({ inputs: [tcp, udp] });
  assertEquals(planReload(c, c, 65536), {
    inputs: [{ keep: 0, settings: undefined }, { keep: 1, settings: undefined }],
    retire: [],
    collectors: false,
    metrics: false,
    atRestart: [],
  });
});

Deno.test("planReload: an input's settings apply in place; it is never closed and bound again", () => {
  const old = cfg({ inputs: [tcp, udp] });
  const next = cfg({ inputs: [{ ...tcp, maxConnections: 10, idleTimeoutMs: 1000 }, udp] });
  const plan = planReload(old, next, 65536);
  assertEquals(plan.inputs, [{ keep: 0, settings: next.inputs[0] }, {
    keep: 1,
    settings: undefined,
  }]);
  assertEquals(plan.retire, []);
});

Deno.test("planReload: a new address is bound, the old one retired; order follows the new config", () => {
  const old = cfg({ inputs: [tcp, udp] });
  const next = cfg({ inputs: [relp, tcp] });
  assertEquals(planReload(old, next, 65536).inputs, [
    { bind: next.inputs[0] },
    { keep: 0, settings: undefined },
  ]);
  assertEquals(planReload(old, next, 65536).retire, [1]);
});

Deno.test("planReload: collectors, metrics, and what only a restart applies", () => {
  const old = cfg({});
  const next = cfg({
    collectors: [{ address: "10.0.0.1:514" }],
    control: { metrics: "", socket: "/run/x/agent.sock" },
    spool: { maxBytes: "2GiB" },
    rsyslogd: { mode: "child" },
  });
  const plan = planReload(old, next, 65536);
  assertEquals(
    [plan.collectors, plan.metrics, plan.atRestart],
    [true, true, ["spool", "rsyslogd", "control socket"]],
  );
});

Deno.test("planReload: a maxMessageSize beyond the buffers sized at start needs a restart", () => {
  const old = cfg({ inputs: [tcp] });
  const next = cfg({ inputs: [{ ...tcp, maxMessageSize: "1MiB" }] });
  assertThrows(
    () => planReload(old, next, 65536),
    /inputs\[0\]\.maxMessageSize 1048576 is larger than the 65536 bytes .* needs a restart/,
  );
});
