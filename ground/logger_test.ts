import assert from "node:assert/strict";
import { errorLine, Logger } from "./logger.ts";

Deno.test("logger: an error line carries journald's err priority under journald only", () => {
  assert.equal(
    errorLine("config: collectors[0].address: bad", true),
    "<3>config: collectors[0].address: bad",
  );
  assert.equal(
    errorLine("config: collectors[0].address: bad", false),
    "config: collectors[0].address: bad",
  );
  const lines: string[] = [];
  const log = new Logger({
    level: "info",
    format: "text",
    journal: true,
    write: (l) => lines.push(l),
  });
  log.error("e");
  log.warn("w");
  log.info("i");
  assert.deepEqual(lines, ["<3>e", "<4>w", "<6>i"]);
});
