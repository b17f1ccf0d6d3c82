import assert from "node:assert/strict";
import { parseAddress, type TlsCollectorConfig } from "../config/mod.ts";
import { dialTls } from "./tls_dial.ts";

async function openssl(dir: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** A CA and a server certificate for 127.0.0.1 it signed. */
async function pki(dir: string): Promise<void> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(dir, [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=tls_dial test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await Deno.writeTextFile(
    `${dir}/server.ext`,
    "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
  );
  await openssl(dir, [
    "req",
    ...ec,
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=s",
  ]);
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "2",
    "-extfile",
    "server.ext",
  ]);
}

function collector(address: string, over: Partial<TlsCollectorConfig>): TlsCollectorConfig {
  return {
    address: { ...parseAddress(address), text: address },
    members: { kind: "address" },
    protocol: "tls",
    framing: "octet-counted",
    replayWindow: 0,
    publicRoots: false,
    connectTimeoutMs: 1000,
    writeTimeoutMs: 1000,
    ...over,
  };
}

Deno.test("dialTls: the root store is fixed at the first connection; a collector needing the other kind is refused, not trusted", async () => {
  const dir = await Deno.makeTempDir();
  const listener = await (async () => {
    await pki(dir);
    return Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: await Deno.readTextFile(`${dir}/server.pem`),
      key: await Deno.readTextFile(`${dir}/server.key`),
    });
  })();
  const serving = (async () => {
    for await (const conn of listener) conn.handshake().catch(() => {}).finally(() => conn.close());
  })();
  try {
    const address = `127.0.0.1:${listener.addr.port}`;
    // ca alone: the store holds no public roots, the CA is all that is trusted.
    (await dialTls(collector(address, { ca: `${dir}/ca.pem` }))).close();
    assert.equal(Deno.env.get("DENO_TLS_CA_STORE"), "");
    for (const over of [{}, { ca: `${dir}/ca.pem`, publicRoots: true }]) {
      await assert.rejects(
        dialTls(collector(address, over)),
        /needs the public roots, but this agent's TLS root store holds none .*; restart the agent to apply this config/,
      );
    }
  } finally {
    listener.close();
    await serving;
    await Deno.remove(dir, { recursive: true });
  }
});
