import assert from "node:assert/strict";
import { connect, ConnectionLostError, isConnectionLost } from "../src/connection/driver.ts";
import { BackupError } from "../src/errors.ts";
import { inProcessTarget, testTarget } from "./support/target.ts";

function oneLine(error: unknown, pattern: RegExp): boolean {
  assert.ok(error instanceof BackupError, String(error));
  assert.match(error.message, pattern);
  assert.ok(!error.message.includes("\n"), error.message);
  return true;
}

Deno.test("connection: an unknown user is a one-line error", async () => {
  const target = await inProcessTarget({ password: "pw" });
  try {
    await assert.rejects(
      () => connect({ host: target.host, port: target.port, user: "nobody", password: "pw" }),
      (e) => oneLine(e, /: unknown user `nobody`; check -u$/),
    );
  } finally {
    await target.cleanup();
  }
});

function fakeServer(answer: Uint8Array | null): { port: number; stop(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    for await (const conn of listener) {
      try {
        await conn.read(new Uint8Array(1024));
        if (answer) await conn.write(answer);
      } catch {
        // The client may be gone already.
      }
      conn.close();
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    stop() {
      listener.close();
      void serving.catch(() => {});
    },
  };
}

Deno.test("connection: a server that closes or answers garbage may require TLS", async () => {
  const tlsAlert = new Uint8Array([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32]);
  for (const answer of [null, tlsAlert, new TextEncoder().encode("HTTP/1.1 400 Bad\r\n\r\n")]) {
    const server = fakeServer(answer);
    try {
      await assert.rejects(
        () => connect({ host: "127.0.0.1", port: server.port }),
        (e) => oneLine(e, /may require TLS: pass --tls-cert CA\.pem$/),
      );
    } finally {
      server.stop();
    }
  }
});

Deno.test("connection: readTableRaw returns every document as stored, in order, and resumes", async () => {
  const target = await testTarget();
  const conn = await connect({ host: target.host, port: target.port, password: target.password });
  try {
    const db = target.uniqueDb("raw");
    await conn.createDatabase(db);
    await conn.createTable(db, "t", { primaryKey: "k" });
    await conn.waitForTable(db, "t");
    const texts = Array.from(
      { length: 120 },
      (_, i) => `{"k":${i},"z":-0.0,"s":"q\\"\\\\ é ${i}"}`,
    );
    await conn.insertJson(db, "t", `[${texts.join(",")}]`);
    const decoder = new TextDecoder();
    const read = async (after?: number) => {
      const docs: string[] = [];
      let batches = 0;
      for await (
        const batch of conn.readTableRaw(db, "t", { primaryKey: "k", after, maxBatchRows: 25 })
      ) {
        batches++;
        for (let i = 0; i < batch.count; i++) {
          docs.push(decoder.decode(batch.frame.subarray(batch.starts[i], batch.ends[i])));
        }
        if (batch.count > 0) assert.equal(batch.lastKey, JSON.parse(docs.at(-1)!).k);
      }
      return { docs, batches };
    };
    const all = await read();
    // Boundaries are the server's choice; a partial batch must be continued to the end.
    assert.ok(all.batches >= 2, `a partial batch and its continuation, got ${all.batches}`);
    assert.deepEqual(all.docs.map((d) => JSON.parse(d).k), texts.map((_, i) => i));
    // Escapes and raw UTF-8 arrive untouched (-0.0 is covered by the recorded frames).
    assert.ok(all.docs[7].includes('"s":"q\\"\\\\ é 7"'), all.docs[7]);
    const rest = await read(99);
    assert.deepEqual(rest.docs, all.docs.slice(100));
  } finally {
    await conn.close();
    await target.cleanup();
  }
});

Deno.test("connection: tableConfig and serverCount", async () => {
  const target = await testTarget();
  const conn = await connect({ host: target.host, port: target.port, password: target.password });
  try {
    const db = target.uniqueDb("cfg");
    await conn.createDatabase(db);
    await conn.createTable(db, "t", { primaryKey: "id" });
    await conn.waitForTable(db, "t");
    assert.ok(await conn.serverCount() >= 1);
    const config = await conn.tableConfig(db, "t");
    assert.equal(config.name, "t");
    assert.equal(config.db, db);
    assert.equal(config.primary_key, "id");
    assert.ok(config.shards.length >= 1);
    assert.ok(["hard", "soft"].includes(config.durability));
  } finally {
    await conn.close();
    await target.cleanup();
  }
});

Deno.test({
  name: "connection: updateTableConfig changes durability and write_acks",
  fn: async () => {
    const target = await testTarget();
    const conn = await connect({
      host: target.host,
      port: target.port,
      password: target.password,
    });
    try {
      const db = target.uniqueDb("cfg");
      await conn.createDatabase(db);
      await conn.createTable(db, "t", { primaryKey: "id" });
      await conn.waitForTable(db, "t");
      await conn.updateTableConfig(db, "t", { durability: "soft", write_acks: "single" });
      const after = await conn.tableConfig(db, "t");
      assert.equal(after.durability, "soft");
      assert.equal(after.write_acks, "single");
      await conn.updateTableConfig(db, "t", { durability: "hard", write_acks: "majority" });
      assert.equal((await conn.tableConfig(db, "t")).durability, "hard");
    } finally {
      await conn.close();
      await target.cleanup();
    }
  },
});

Deno.test("connection: a drop mid-frame fails every pending query; close is idempotent", async () => {
  const target = await inProcessTarget();
  const conn = await connect({ host: target.host, port: target.port });
  try {
    const db = target.uniqueDb("drop");
    await conn.createDatabase(db);
    await conn.createTable(db, "t", { primaryKey: "id" });
    const pad = "x".repeat(500);
    await conn.insertJson(
      db,
      "t",
      JSON.stringify(Array.from({ length: 200 }, (_, id) => ({ id, pad }))),
    );
    target.server!.faults.closeAfterBytes(20_000);
    const reading = (async () => {
      for await (const _ of conn.readTableRaw(db, "t", { primaryKey: "id", maxBatchRows: 10 })) {
        // keep reading until the connection drops
      }
    })();
    const others = [conn.listDatabases(), conn.tableInfo(db, "t")];
    const results = await Promise.allSettled([reading, ...others]);
    for (const result of results) {
      if (result.status === "rejected") {
        assert.ok(isConnectionLost(result.reason), String(result.reason));
      }
    }
    assert.equal(results[0].status, "rejected");
    assert.match(
      String((results[0] as PromiseRejectedResult).reason.message),
      /closed the connection in the middle of a response/,
    );
    await assert.rejects(() => conn.listDatabases(), ConnectionLostError);
    await conn.close();
    await conn.close();
  } finally {
    target.server?.faults.reset();
    await target.cleanup();
  }
});
