import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { systemResolver } from "./resolver.ts";

Deno.test("system resolver: a literal address is its own answer, IPv4 and IPv6", async () => {
  for (const a of ["127.0.0.5", "10.255.0.1", "::1", "fe80::1:2", "2001:db8::8a2e:370:7334"]) {
    assertEquals(await systemResolver.addresses(a), [a]);
  }
});

Deno.test("system resolver: a name goes through getaddrinfo (/etc/hosts)", async () => {
  const found = await systemResolver.addresses("localhost");
  assert(found.includes("127.0.0.1") || found.includes("::1"), `localhost: ${found}`);
  await rejects(systemResolver.addresses("no-such-host.invalid"));
});
