import assert from "node:assert/strict";
import { parseAddress } from "./address.ts";

Deno.test("parseAddress splits host:port and [ipv6]:port", () => {
  assert.deepEqual(parseAddress("127.0.0.1:514"), { hostname: "127.0.0.1", port: 514 });
  assert.deepEqual(parseAddress("logs.example.com:6514"), {
    hostname: "logs.example.com",
    port: 6514,
  });
  assert.deepEqual(parseAddress("[::1]:5514"), { hostname: "::1", port: 5514 });
  assert.deepEqual(parseAddress("localhost:65535"), { hostname: "localhost", port: 65535 });
});

Deno.test("parseAddress names the value and the expected form", () => {
  assert.throws(() => parseAddress("logs"), { message: 'expected "host:port", got "logs"' });
  assert.throws(() => parseAddress(":514"), { message: 'expected "host:port", got ":514"' });
  assert.throws(() => parseAddress("host:"), { message: 'expected "host:port", got "host:"' });
  assert.throws(() => parseAddress("a b:1"), { message: 'expected "host:port", got "a b:1"' });
  assert.throws(() => parseAddress("[zz]:1"), { message: 'expected "host:port", got "[zz]:1"' });
  assert.throws(() => parseAddress("h:0"), {
    message: 'expected "host:port" with a port from 1 to 65535, got "h:0"',
  });
  assert.throws(() => parseAddress("h:65536"), {
    message: 'expected "host:port" with a port from 1 to 65535, got "h:65536"',
  });
  assert.throws(() => parseAddress("::1:514"), {
    message: 'expected "host:port" with an IPv6 host in brackets (like "[::1]:514"), got "::1:514"',
  });
});
