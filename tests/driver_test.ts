/**
 * The driver layer (src/connection/driver.ts) against the test server, or a real server when
 * RETHINKDB_TEST_SERVER is set: handshake, one-line connection errors, batch reads with resume,
 * concurrent queries, writes through r.json, indexes and hooks from blobs.
 */
import assert from "node:assert/strict";
import {
  connect,
  ConnectionLostError,
  type ConnectOptions,
  ServerError,
} from "../src/connection/driver.ts";
import { BackupError } from "../src/errors.ts";
import { startTestServer } from "./server/mod.ts";
import { faultsSkipReason, testTarget } from "./support/target.ts";
import { hasOpenssl, makeSelfSignedCert } from "./support/tls.ts";

function oneLine(error: unknown, pattern: RegExp): boolean {
  assert.ok(error instanceof BackupError, String(error));
  assert.match(error.message, pattern);
  assert.ok(!error.message.includes("\n"), error.message);
  return true;
}

Deno.test("driver: connects with no password, the right password; wrong password is one line", async () => {
  const server = await startTestServer({ password: "s3cret" });
  try {
    const base: ConnectOptions = { host: server.host, port: server.port };
    const conn = await connect({ ...base, password: "s3cret" });
    assert.match(await conn.serverVersion(), /^rethinkdb 2\.4\.4/);
    await conn.close();
    await assert.rejects(
      () => connect({ ...base, password: "wrong" }),
      (e) =>
        oneLine(
          e,
          /^cannot log in to 127\.0\.0\.1:\d+ as `admin`: wrong password; give the right one with -p or --password-file$/,
        ),
    );
    await assert.rejects(
      () => connect({ ...base, password: "hunter2-xyz" }),
      (e) => !(e as Error).message.includes("hunter2-xyz"),
      "the password never appears in the error",
    );
    server.setPassword("admin", null);
    const open = await connect(base);
    assert.ok((await open.listDatabases()).includes("rethinkdb"));
    await open.close();
  } finally {
    await server.close();
  }
});

Deno.test("driver: unreachable host, refused port and timeout are one-line errors", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await assert.rejects(
    () => connect({ host: "127.0.0.1", port }),
    (e) =>
      oneLine(
        e,
        /^cannot connect to 127\.0\.0\.1:\d+: connection refused; is RethinkDB running there\?/,
      ),
  );
  await assert.rejects(
    () => connect({ host: "no-such-host.invalid", port: 28015, timeoutSeconds: 5 }),
    (e) =>
      oneLine(
        e,
        /^cannot connect to no-such-host\.invalid:28015: (host `no-such-host\.invalid` not found|no answer)/,
      ),
  );
  // A server that accepts but never answers the handshake.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  (async () => {
    for await (const c of silent) held.push(c);
  })();
  try {
    await assert.rejects(
      () =>
        connect({ host: "127.0.0.1", port: (silent.addr as Deno.NetAddr).port, timeoutSeconds: 1 }),
      (e) => oneLine(e, /^cannot connect to 127\.0\.0\.1:\d+: no answer within 1s/),
    );
  } finally {
    silent.close();
    held.forEach((c) => c.close());
  }
});

Deno.test({
  name:
    "driver: TLS verifies the server against --tls-cert; a wrong CA fails in one line (needs openssl)",
  ignore: !(await hasOpenssl()),
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const makeCert = (name: string) => makeSelfSignedCert(dir, name);
    await makeCert("server");
    await makeCert("other");
    const server = await startTestServer({
      tls: { certFile: `${dir}/server.pem`, keyFile: `${dir}/server.key` },
    });
    try {
      const conn = await connect({
        host: "localhost",
        port: server.port,
        tlsCaFile: `${dir}/server.pem`,
      });
      assert.ok((await conn.listDatabases()).includes("rethinkdb"));
      await conn.close();
      await assert.rejects(
        () =>
          connect({
            host: "localhost",
            port: server.port,
            tlsCaFile: `${dir}/other.pem`,
            timeoutSeconds: 5,
          }),
        (e) => oneLine(e, /^TLS connection to localhost:\d+ failed: .*; check --tls-cert/),
      );
      await assert.rejects(
        () => connect({ host: "localhost", port: server.port, tlsCaFile: `${dir}/missing.pem` }),
        (e) => oneLine(e, /^--tls-cert .*missing\.pem: cannot read the file/),
      );
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("driver: tables, batches in primary-key order, resume after a key, writes via r.json", async () => {
  const target = await testTarget();
  const conn = await connect({ host: target.host, port: target.port, password: target.password });
  try {
    const db = target.uniqueDb("drv");
    await conn.createDatabase(db);
    await conn.createTable(db, "t", { primaryKey: "k" });
    await conn.waitForTable(db, "t");
    const docs = Array.from({ length: 250 }, (_, i) => ({
      k: i,
      big: 9007199254740000 + i,
      at: { $reql_type$: "TIME", epoch_time: 1600000000 + i, timezone: "+05:30" },
      bin: { $reql_type$: "BINARY", data: "AAEC" },
    }));
    const result = await conn.insertJson(db, "t", JSON.stringify(docs), { durability: "hard" });
    assert.equal(result.inserted, 250);
    const duplicate = await conn.insertJson(db, "t", JSON.stringify([{ k: 1 }]));
    assert.equal(duplicate.errors, 1);
    assert.match(duplicate.first_error ?? "", /^Duplicate primary key `k`/);
    const replaced = await conn.insertJson(db, "t", JSON.stringify([docs[1]]), {
      conflict: "replace",
    });
    assert.equal(replaced.replaced + replaced.unchanged, 1);

    assert.ok((await conn.listTables()).some((t) => t.db === db && t.table === "t"));
    assert.equal((await conn.tableInfo(db, "t")).primary_key, "k");
    assert.equal(await conn.writeHook(db, "t"), null);

    const batches: number[][] = [];
    for await (const batch of conn.readTable(db, "t", { primaryKey: "k", maxBatchRows: 60 })) {
      batches.push(batch.map((d) => d.k as number));
    }
    // Batch boundaries are the server's choice (a real 2.4.4 does not cap them at
    // max_batch_rows); what matters is that a partial batch is continued until the end.
    assert.ok(batches.length >= 2, `a partial batch and its continuation, got ${batches.length}`);
    assert.deepEqual(batches.flat(), docs.map((d) => d.k));
    const after: unknown[] = [];
    for await (
      const batch of conn.readTable(db, "t", { primaryKey: "k", after: 244, readOutdated: true })
    ) {
      after.push(...batch);
    }
    assert.deepEqual(
      after,
      docs.slice(245),
      "raw pseudo-types and big integers come back unchanged",
    );

    // Stopping early sends STOP and leaves the connection usable.
    for await (const batch of conn.readTable(db, "t", { primaryKey: "k", maxBatchRows: 10 })) {
      assert.ok(batch.length > 0 && batch.length < docs.length, `a batch of ${batch.length}`);
      break;
    }
    // Several queries in flight on one connection.
    const [a, b, c] = await Promise.all([
      conn.docCountEstimate(db, "t"),
      conn.indexStatus(db, "t"),
      conn.listDatabases(),
    ]);
    assert.equal(typeof a, "number");
    assert.deepEqual(b, []);
    assert.ok(c.includes(db));
  } finally {
    await conn.close();
    await target.cleanup();
  }
});

Deno.test("driver: server errors carry the server's message", async () => {
  const target = await testTarget();
  const conn = await connect({ host: target.host, port: target.port, password: target.password });
  try {
    await assert.rejects(() => conn.tableInfo("no_such_db_x", "t"), (e) => {
      assert.ok(e instanceof ServerError);
      assert.equal(e.message, "Database `no_such_db_x` does not exist.");
      return true;
    });
  } finally {
    await conn.close();
    await target.cleanup();
  }
});

Deno.test({
  name: "driver: a dropped connection mid-read is a ConnectionLostError",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    const target = await testTarget();
    const conn = await connect({ host: target.host, port: target.port, password: target.password });
    try {
      const db = target.uniqueDb("drv");
      await conn.createDatabase(db);
      await conn.createTable(db, "t", { primaryKey: "id" });
      await conn.insertJson(
        db,
        "t",
        JSON.stringify(Array.from({ length: 100 }, (_, id) => ({ id }))),
      );
      target.server!.faults.closeAfterDocuments(30);
      let seen = 0;
      await assert.rejects(async () => {
        for await (const batch of conn.readTable(db, "t", { primaryKey: "id", maxBatchRows: 10 })) {
          seen += batch.length;
        }
      }, ConnectionLostError);
      assert.ok(seen <= 30);
      target.server!.faults.reset();
      target.server!.faults.delayResponses(2000);
      const again = await connect({ host: target.host, port: target.port });
      await assert.rejects(async () => {
        for await (const _ of again.readTable(db, "t", { primaryKey: "id", batchTimeoutMs: 200 })) {
          // nothing: the first batch never comes in time
        }
      }, (e) => e instanceof ConnectionLostError && /no answer .* within 200 ms/.test(e.message));
      await again.close();
    } finally {
      target.server?.faults.reset();
      await conn.close();
      await target.cleanup();
    }
  },
});
