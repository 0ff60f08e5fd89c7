/**
 * Fault injection of the test server: cut after documents or bytes, delays, refused connections,
 * injected query errors, reset. Needs the in-process server (skipped against a real one).
 */

import assert from "node:assert/strict";
import { r } from "npm:rethinkdb-ts@3.0.0";
import { containsTerm, TermType } from "./server/mod.ts";
import { scramFinal } from "./support/raw_client.ts";
import { faultsSkipReason, type TestTarget, testTarget } from "./support/target.ts";

/** Runs a fault test on a fresh in-process server, skipped against a real server. */
function faultTest(name: string, fn: (t: TestTarget) => Promise<void>): void {
  Deno.test({
    name: faultsSkipReason === undefined ? name : `${name} (skipped: ${faultsSkipReason})`,
    ignore: faultsSkipReason !== undefined,
    fn: async () => {
      const target = await testTarget();
      try {
        await fn(target);
      } finally {
        await target.cleanup();
      }
    },
  });
}

async function fill(target: TestTarget, n: number): Promise<string> {
  const db = target.uniqueDb();
  const conn = await target.connect();
  await r.dbCreate(db).run(conn);
  await r.db(db).tableCreate("t").run(conn);
  await r.db(db).table("t").insert(Array.from({ length: n }, (_, i) => ({ id: i }))).run(conn);
  return db;
}

faultTest(
  "closeAfterDocuments: the connection closes before the batch that crosses N",
  async (target) => {
    const db = await fill(target, 1000);
    const conn = await target.connect();
    target.server!.faults.closeAfterDocuments(250);
    const cursor = await r.db(db).table("t").orderBy({ index: "id" }).getCursor(conn, {
      maxBatchRows: 100,
    });
    const seen: number[] = [];
    await assert.rejects(async () => {
      for await (const doc of cursor) seen.push((doc as { id: number }).id);
    });
    assert.deepEqual(seen, Array.from({ length: 200 }, (_, i) => i));
    // The fault fired once; a new connection reads everything.
    const again = await target.connect();
    assert.equal((await r.db(db).table("t").orderBy({ index: "id" }).run(again)).length, 1000);
  },
);

faultTest("closeAfterBytes: exactly N response bytes arrive, cut mid-frame", async (target) => {
  const db = await fill(target, 500);
  // A plain socket, so that every byte after the handshake is counted here.
  const sock = await Deno.connect({ hostname: target.host, port: target.port });
  assert.ok(await handshakeOn(sock));
  target.server!.faults.closeAfterBytes(1000);
  const query = JSON.stringify([1, [41, [[15, [[14, [db]], "t"]]], { index: "id" }], {}]);
  const frame = new Uint8Array(12 + query.length);
  new DataView(frame.buffer).setUint32(8, query.length, true);
  frame.set(new TextEncoder().encode(query), 12);
  await sock.write(frame);
  let received = 0;
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await sock.read(buf).catch(() => null);
    if (n === null) break;
    received += n;
  }
  sock.close();
  assert.equal(received, 1000);
});

/** Performs the handshake (no password) on a plain socket. */
async function handshakeOn(sock: Deno.Conn): Promise<boolean> {
  const enc = new TextEncoder();
  const readMsg = async () => {
    const bytes: number[] = [];
    const one = new Uint8Array(1);
    for (;;) {
      if ((await sock.read(one)) === null) return null;
      if (one[0] === 0) return JSON.parse(new TextDecoder().decode(new Uint8Array(bytes)));
      bytes.push(one[0]);
    }
  };
  const bare = "n=admin,r=abcdefghijklmnopqrstuvwx";
  await sock.write(new Uint8Array([0xc3, 0xbd, 0xc2, 0x34]));
  await sock.write(enc.encode(
    JSON.stringify({
      protocol_version: 0,
      authentication_method: "SCRAM-SHA-256",
      authentication: `n,,${bare}`,
    }) + "\0",
  ));
  await readMsg();
  const first = await readMsg();
  const { final } = scramFinal(bare, first.authentication, "");
  await sock.write(enc.encode(JSON.stringify({ authentication: final }) + "\0"));
  const last = await readMsg();
  return last?.success === true;
}

faultTest("delayResponses: matching queries are delayed, others are not", async (target) => {
  const conn = await target.connect();
  target.server!.faults.delayResponses(200, TermType.DB_LIST);
  let start = performance.now();
  await r.dbList().run(conn);
  assert.ok(performance.now() - start >= 190);
  start = performance.now();
  await r.expr(1).run(conn);
  assert.ok(performance.now() - start < 150);
  target.server!.faults.reset();
  start = performance.now();
  await r.dbList().run(conn);
  assert.ok(performance.now() - start < 150);
});

faultTest("refuseConnections: close and hang modes, then accept again", async (target) => {
  const server = target.server!;
  server.faults.refuseConnections("close");
  await assert.rejects(() => r.connect({ host: target.host, port: target.port, silent: true }));
  server.faults.refuseConnections("hang");
  await assert.rejects(() =>
    r.connect({ host: target.host, port: target.port, timeout: 1, silent: true })
  );
  server.faults.acceptConnections();
  server.dropConnections();
  const conn = await r.connect({ host: target.host, port: target.port });
  assert.equal(await r.expr(2).run(conn), 2);
  await conn.close();
});

faultTest("failQuery: the next matching query gets the injected error", async (target) => {
  const db = await fill(target, 3);
  const conn = await target.connect();
  const faults = target.server!.faults;
  faults.failQuery(
    TermType.INSERT,
    "Cannot perform write: primary replica for shard not available",
  );
  await assert.rejects(
    () => r.db(db).table("t").insert({ id: 10 }).run(conn),
    (e: Error) => e.message.startsWith("Cannot perform write: primary replica"),
  );
  // Only once: the retry succeeds, and nothing was written by the failed attempt.
  assert.equal((await r.db(db).table("t").insert({ id: 10 }).run(conn)).inserted, 1);

  faults.failQuery((q) => containsTerm(q.term, TermType.TABLE_CREATE), {
    message: "boom",
    responseType: 18,
    errorType: 4200000,
  }, 2);
  for (let i = 0; i < 2; i++) {
    await assert.rejects(() => r.db(db).tableCreate(`x${i}`).run(conn), /boom/);
  }
  await r.db(db).tableCreate("x").run(conn);

  faults.failQuery(TermType.COUNT, "gone");
  faults.reset();
  assert.equal(await r.db(db).table("t").count().run(conn), 4);
});

faultTest("dropConnections: open connections are closed, new ones work", async (target) => {
  const conn = await target.connect();
  target.server!.dropConnections();
  await assert.rejects(() => r.expr(1).run(conn));
  const again = await target.connect();
  assert.equal(await r.expr(1).run(again), 1);
});
