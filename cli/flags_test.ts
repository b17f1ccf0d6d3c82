import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { parseFlags } from "./flags.ts";

const KINDS = { tail: "string", json: "boolean", "dead-letter": "boolean" } as const;

Deno.test("flags: values as --name VALUE and --name=VALUE, booleans, positionals in order", () => {
  assertEquals(parseFlags(["cat", "--tail", "5", "--json", "x"], KINDS), {
    values: { tail: "5", json: true },
    positionals: ["cat", "x"],
  });
  assertEquals(parseFlags(["--tail=-3", "--dead-letter"], KINDS), {
    values: { tail: "-3", "dead-letter": true },
    positionals: [],
  });
  assertEquals(parseFlags(["--tail="], KINDS).values, { tail: "" });
  assertEquals(parseFlags([], {}), { values: {}, positionals: [] });
});

Deno.test("flags: -- ends them, and - alone is a positional", () => {
  assertEquals(parseFlags(["-", "--", "--json", "--nope"], KINDS), {
    values: {},
    positionals: ["-", "--json", "--nope"],
  });
});

Deno.test("flags: an unknown, short, repeated or malformed flag says what and what is known", () => {
  throws(() => parseFlags(["--nope"], KINDS), {
    message: 'unknown option "--nope" (known: --tail, --json, --dead-letter)',
  });
  throws(() => parseFlags(["-j"], KINDS), { message: /^unknown option "-j"/ });
  throws(() => parseFlags(["--x=1"], {}), {
    message: 'unknown option "--x" (this command takes none)',
  });
  throws(() => parseFlags(["--toString"], KINDS), { message: /^unknown option "--toString"/ });
  throws(() => parseFlags(["--json", "--json"], KINDS), { message: "--json is given twice" });
  throws(() => parseFlags(["--json=yes"], KINDS), {
    message: '--json takes no value, got "yes"',
  });
  throws(() => parseFlags(["--tail"], KINDS), { message: /^--tail needs a value/ });
  throws(() => parseFlags(["--tail", "--json"], KINDS), { message: /^--tail needs a value/ });
});
