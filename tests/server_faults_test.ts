/**
 * Fault injection of the test server: cut after documents or bytes, delays, refused connections,
 * injected query errors, simulated restarts, reset. Needs the in-process server (skipped against
 * a real one).
 */

import assert from "node:assert/strict";
import { type Connection, r } from "npm:rethinkdb-ts@3.0.0";
import { containsTerm, TermType } from "./server/mod.ts";
import { RawClient, scramFinal } from "./support/raw_client.ts";
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

// ---- restart(): a SIGKILL and a start, as a real 2.4.4 server goes through them ----

const READ_UNAVAILABLE = 'Cannot perform read: primary replica for shard ["", +inf) not available';
const WRITE_UNAVAILABLE =
  'Cannot perform write: primary replica for shard ["", +inf) not available';

/** Wire term of `r.db(db).table(name)`. */
function tableTerm(db: string, name = "t"): unknown[] {
  return [TermType.TABLE, [[TermType.DB, [db]], name]];
}

/** A raw connection through the handshake, for exact response frames. */
async function rawClient(target: TestTarget): Promise<RawClient> {
  const client = await RawClient.open(target.host, target.port);
  assert.ok((await client.handshake("admin", "")).serverVerified);
  return client;
}

/** Sorted ids of `r.db(db).table(name)`. */
async function ids(conn: Connection, db: string, name = "t"): Promise<number[]> {
  const docs = await r.db(db).table(name).run(conn) as { id: number }[];
  return docs.map((d) => d.id).sort((a, b) => a - b);
}

faultTest("restart: soft writes since the last sync are lost, hard and synced ones kept", async (
  target,
) => {
  const db = await fill(target, 3); // ids 0..2, hard (the table's default durability)
  const faults = target.server!.faults;
  let conn = await target.connect();
  const t = r.db(db).table("t");
  await t.insert([{ id: 10 }, { id: 11 }], { durability: "soft" }).run(conn);
  assert.deepEqual(await t.sync().run(conn), { synced: 1 });
  await t.insert({ id: 12 }, { durability: "soft" }).run(conn); // lost
  await t.insert({ id: 13 }, { durability: "hard" }).run(conn); // kept
  await t.get(10).update({ v: 1 }, { durability: "soft" }).run(conn); // rolled back
  await t.get(11).delete({ durability: "soft" }).run(conn); // comes back
  await t.get(0).update({ v: 1 }, { durability: "soft" }).run(conn);
  await t.get(0).update({ v: 2 }, { durability: "hard" }).run(conn); // hard after soft: kept
  await t.insert({ id: 14 }, { durability: "soft" }).run(conn);
  await t.get(14).delete({ durability: "soft" }).run(conn); // no change to undo
  // The query's global optarg, then the table's default (soft since tableCreate).
  await t.insert({ id: 15 }).run(conn, { durability: "soft" });
  await r.db(db).tableCreate("s", { durability: "soft" }).run(conn);
  await r.db(db).table("s").insert([{ id: 1 }, { id: 2 }]).run(conn);
  await r.db(db).table("s").insert({ id: 3 }, { durability: "hard" }).run(conn);

  faults.restart({ unavailableMs: 0 });
  assert.equal(faults.lastRestartLost, 6); // 12, 10, 11, 15 in t; 1, 2 in s
  await faults.untilRestarted();
  conn = await target.connect();
  assert.deepEqual(await ids(conn, db), [0, 1, 2, 10, 11, 13]);
  assert.deepEqual(await t.get(10).run(conn), { id: 10 });
  assert.deepEqual(await t.get(0).run(conn), { id: 0, v: 2 });
  assert.deepEqual(await ids(conn, db, "s"), [3]);
  // Nothing soft since: a second restart loses nothing.
  faults.restart({ unavailableMs: 0 });
  assert.equal(faults.lastRestartLost, 0);
  await faults.untilRestarted();
});

faultTest("restart: reads and writes fail with the real errors until the tables are ready", async (
  target,
) => {
  const db = await fill(target, 3);
  const faults = target.server!.faults;
  const conn = await target.connect();
  const raw = await rawClient(target);
  faults.restart({ unavailableMs: 60_000 });
  // Every connection is dropped at once.
  await raw.closedByServer();
  await assert.rejects(() => r.expr(1).run(conn));

  const client = await rawClient(target);
  const table = tableTerm(db);
  const get = [TermType.GET, [table, 1]];
  const cases: [string, unknown[], string][] = [
    ["table", table, READ_UNAVAILABLE],
    ["get", get, READ_UNAVAILABLE],
    ["count", [TermType.COUNT, [table]], READ_UNAVAILABLE],
    [
      "filter().delete()",
      [TermType.DELETE, [[TermType.FILTER, [table, { id: 1 }]]]],
      READ_UNAVAILABLE,
    ],
    ["insert", [TermType.INSERT, [table, { id: 7 }]], WRITE_UNAVAILABLE],
    ["get().update()", [TermType.UPDATE, [get, { v: 1 }]], WRITE_UNAVAILABLE],
    ["get().delete()", [TermType.DELETE, [get]], WRITE_UNAVAILABLE],
    ["sync", [TermType.SYNC, [table]], WRITE_UNAVAILABLE],
  ];
  let token = 1;
  for (const [what, term, message] of cases) {
    const response = await client.query(token++, [1, term, {}]);
    assert.deepEqual([response?.t, response?.e, response?.r], [18, 4100000, [message]], what);
  }
  // Metadata keeps working, and a table created now is ready.
  const metadata: [string, unknown[]][] = [
    ["dbList", [TermType.DB_LIST, []]],
    ["tableList", [TermType.TABLE_LIST, [[TermType.DB, [db]]]]],
    ["table_config", tableTerm("rethinkdb", "table_config")],
    ["info", [TermType.INFO, [table]]],
    ["indexCreate", [TermType.INDEX_CREATE, [table, "v"]]],
    ["indexStatus", [TermType.INDEX_STATUS, [table]]],
    ["tableCreate", [TermType.TABLE_CREATE, [[TermType.DB, [db]], "fresh"]]],
    ["insert into fresh", [TermType.INSERT, [tableTerm(db, "fresh"), { id: 1 }]]],
    ["fresh", tableTerm(db, "fresh")],
  ];
  for (const [what, term] of metadata) {
    const response = await client.query(token++, [1, term, {}]);
    assert.ok(response !== null && response.t !== 18, `${what}: ${JSON.stringify(response)}`);
  }

  // reset() ends the period: everything works again, nothing was lost (all writes were hard).
  faults.reset();
  const response = await client.query(token++, [1, [TermType.COUNT, [table]], {}]);
  assert.deepEqual(response?.r, [3]);
  const inserted = await client.query(token++, [1, [TermType.INSERT, [table, { id: 7 }]], {}]);
  assert.equal((inserted?.r[0] as { inserted: number }).inserted, 1);
  client.close();
});

faultTest("restart: connecting is refused for downMs, then works", async (target) => {
  const db = await fill(target, 2);
  const faults = target.server!.faults;
  const started = performance.now();
  await faults.restart({ downMs: 400, unavailableMs: 1500 });
  await assert.rejects(
    () => Deno.connect({ hostname: target.host, port: target.port }),
    Deno.errors.ConnectionRefused,
  );
  let conn: Connection | undefined;
  while (conn === undefined) {
    conn = await target.connect().catch(() => undefined);
    if (conn === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok(performance.now() - started >= 390);
  // Up, tables not ready yet: reads fail; once ready they work.
  await assert.rejects(() => r.db(db).table("t").run(conn), (e: Error) => {
    return e.message.startsWith(READ_UNAVAILABLE);
  });
  await faults.untilRestarted();
  assert.ok(performance.now() - started >= 1890);
  assert.deepEqual(await ids(conn, db), [0, 1]);
});

faultTest("restart: wait() waits for the tables, or times out with the real error", async (
  target,
) => {
  const db = await fill(target, 2);
  const faults = target.server!.faults;
  let started = performance.now();
  faults.restart({ unavailableMs: 1500 });
  const conn = await target.connect();
  const [table, database] = await Promise.all([
    r.db(db).table("t").wait({ timeout: 10 }).run(conn),
    r.db(db).wait().run(conn),
  ]);
  assert.ok(performance.now() - started >= 1490, `waited ${performance.now() - started} ms`);
  assert.deepEqual(table, { ready: 1 });
  assert.deepEqual(database, { ready: 1 });
  assert.deepEqual(await ids(conn, db), [0, 1]);

  faults.restart({ unavailableMs: 60_000 });
  const client = await rawClient(target);
  started = performance.now();
  const response = await client.query(1, [1, [TermType.WAIT, [tableTerm(db)], { timeout: 1 }], {}]);
  assert.deepEqual(response, {
    t: 18,
    e: 4100000,
    r: ["Timed out while waiting for tables."],
    b: [],
  });
  assert.ok(performance.now() - started >= 950);
  // A wait without a timeout answers when reset() ends the period.
  const pending = client.query(2, [1, [TermType.WAIT, [tableTerm(db)]], {}]);
  await new Promise((resolve) => setTimeout(resolve, 100));
  faults.reset();
  assert.deepEqual((await pending)?.r, [{ ready: 1 }]);
  client.close();
});

faultTest("restart: a query held back by a delay dies with the server", async (target) => {
  const db = await fill(target, 1);
  const faults = target.server!.faults;
  const conn = await target.connect();
  faults.delayResponses(200, TermType.INSERT);
  const insert = r.db(db).table("t").insert({ id: 5 }, { durability: "hard" }).run(conn);
  await new Promise((resolve) => setTimeout(resolve, 50));
  faults.restart({ unavailableMs: 0 });
  await assert.rejects(() => insert);
  await faults.untilRestarted();
  await new Promise((resolve) => setTimeout(resolve, 250));
  assert.deepEqual(await ids(await target.connect(), db), [0]);
});

faultTest("restart: reset() cancels the pending phases", async (target) => {
  const db = await fill(target, 2);
  const faults = target.server!.faults;
  await faults.restart({ downMs: 60_000, unavailableMs: 60_000 });
  await assert.rejects(
    () => Deno.connect({ hostname: target.host, port: target.port }),
    Deno.errors.ConnectionRefused,
  );
  faults.reset();
  await faults.untilRestarted(); // at once
  const conn = await target.connect();
  assert.deepEqual(await ids(conn, db), [0, 1]);
  assert.deepEqual(await r.db(db).table("t").wait({ timeout: 1 }).run(conn), { ready: 1 });
  // The test's own sanitizer checks that no timer of the restart is left behind.
});

faultTest('refuseConnections("refuse"): connecting fails, then the same port listens again', async (
  target,
) => {
  const server = target.server!;
  const conn = await target.connect();
  await server.faults.refuseConnections("refuse");
  await assert.rejects(
    () => Deno.connect({ hostname: target.host, port: target.port }),
    Deno.errors.ConnectionRefused,
  );
  assert.equal(await r.expr(1).run(conn), 1); // open connections are not touched
  await server.faults.acceptConnections();
  const again = await target.connect();
  assert.equal(await r.expr(2).run(again), 2);
});
