/**
 * The test server's connection handshake: V1_0 magic, SCRAM-SHA-256 with and without a password,
 * the exact failure messages, TLS.
 */

import assert from "node:assert/strict";
import { r } from "npm:rethinkdb-ts@3.0.0";
import { startTestServer } from "./server/mod.ts";
import { RawClient } from "./support/raw_client.ts";
import { hasOpenssl, makeSelfSignedCert } from "./support/tls.ts";

Deno.test("handshake: no password, via rethinkdb-ts", async () => {
  const server = await startTestServer();
  try {
    const conn = await r.connect({ host: server.host, port: server.port });
    assert.deepEqual(await r.dbList().run(conn), ["rethinkdb", "test"]);
    await conn.close();
  } finally {
    await server.close();
  }
});

Deno.test("handshake: right password, via rethinkdb-ts", async () => {
  const server = await startTestServer({ password: "s3cret" });
  try {
    const conn = await r.connect({ host: server.host, port: server.port, password: "s3cret" });
    assert.equal(await r.expr(1).add(1).run(conn), 2);
    await conn.close();
  } finally {
    await server.close();
  }
});

Deno.test("handshake: wrong password fails with `Wrong password`, error_code 12", async () => {
  const server = await startTestServer({ password: "s3cret" });
  try {
    await assert.rejects(
      () => r.connect({ host: server.host, port: server.port, password: "wrong" }),
      (e: Error) => e.name === "ReqlAuthError" && e.message.startsWith("Wrong password"),
    );
    const raw = await RawClient.open(server.host, server.port);
    const { messages } = await raw.handshake("admin", "wrong");
    assert.deepEqual(messages.at(-1), {
      error: "Wrong password",
      error_code: 12,
      success: false,
    });
    await raw.closedByServer();
    raw.close();
  } finally {
    await server.close();
  }
});

Deno.test("handshake: messages have the recorded shapes (i=1 without password, 4096 with)", async () => {
  const server = await startTestServer();
  try {
    const nonce = "kPPIZRYc8QXoq1Awq1Y54P1m";
    const raw = await RawClient.open(server.host, server.port);
    const { messages, serverVerified } = await raw.handshake("admin", "", nonce);
    raw.close();
    assert.deepEqual(messages[0], {
      max_protocol_version: 0,
      min_protocol_version: 0,
      server_version: "2.4.4",
      success: true,
    });
    assert.match(
      String(messages[1].authentication),
      new RegExp(
        `^r=${nonce.replace(/[+/]/g, "\\$&")}[A-Za-z0-9+/]{20},s=[A-Za-z0-9+/]{22}==,i=1$`,
      ),
    );
    assert.ok(serverVerified, "server signature verifies");

    server.setPassword("admin", "s3cret");
    const raw2 = await RawClient.open(server.host, server.port);
    const second = await raw2.handshake("admin", "s3cret");
    raw2.close();
    assert.match(String(second.messages[1].authentication), /,i=4096$/);
    assert.ok(second.serverVerified);
  } finally {
    await server.close();
  }
});

Deno.test("handshake: unknown user fails with `Unknown user`, error_code 17", async () => {
  const server = await startTestServer();
  try {
    const raw = await RawClient.open(server.host, server.port);
    const { messages } = await raw.handshake("nobody", "");
    raw.close();
    // The first round trip looks normal (RethinkDB hides whether a user exists)...
    assert.equal(messages[1].success, true);
    // ...and the proof is refused.
    assert.deepEqual(messages[2], { error: "Unknown user", error_code: 17, success: false });
  } finally {
    await server.close();
  }
});

Deno.test("handshake: a wrong magic number is answered with RethinkDB's text and closed", async () => {
  const server = await startTestServer();
  try {
    const raw = await RawClient.open(server.host, server.port);
    await raw.write(new Uint8Array([1, 2, 3, 4]));
    const reply = await raw.readMessage();
    raw.close();
    assert.match(String(reply?.text), /^ERROR: Received an unsupported protocol version/);
  } finally {
    await server.close();
  }
});

Deno.test("handshake: passwords change through rethinkdb.users and setPassword", async () => {
  const server = await startTestServer();
  try {
    const conn = await r.connect({ host: server.host, port: server.port });
    const res = await r.db("rethinkdb").table("users").get("admin").update({ password: "pw2" })
      .run(conn);
    assert.equal(res.replaced, 1);
    assert.deepEqual(await r.db("rethinkdb").table("users").run(conn), [{
      id: "admin",
      password: true,
    }]);
    await conn.close();
    const conn2 = await r.connect({ host: server.host, port: server.port, password: "pw2" });
    await conn2.close();
    server.setPassword("admin", null);
    const conn3 = await r.connect({ host: server.host, port: server.port });
    await conn3.close();
  } finally {
    await server.close();
  }
});

Deno.test({
  name: "handshake: TLS with a self-signed certificate (needs openssl)",
  ignore: !(await hasOpenssl()),
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const { certFile, keyFile } = await makeSelfSignedCert(dir, "cert");
      const server = await startTestServer({ tls: { certFile, keyFile }, password: "pw" });
      try {
        const conn = await r.connect({
          password: "pw",
          server: {
            host: server.host,
            port: server.port,
            tls: true,
            ca: await Deno.readTextFile(certFile),
            servername: "localhost",
          },
        });
        assert.deepEqual(await r.dbList().run(conn), ["rethinkdb", "test"]);
        await conn.close();
      } finally {
        await server.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
