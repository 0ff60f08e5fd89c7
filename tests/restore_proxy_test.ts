/**
 * A restore of many tables through a TCP proxy that cuts connections while tables are being
 * created and filled: each cut is one reconnect, however many operations were waiting on the
 * connection, and every table ends equal to its source. Plain TCP, so it runs against the test
 * server and against a real one alike.
 */
import assert from "node:assert/strict";
import { r } from "npm:rethinkdb-ts@3.0.0";
import { dump } from "../src/dump/run.ts";
import { restore } from "../src/restore/run.ts";
import { startCuttingProxy } from "./support/proxy.ts";
import { type TestTarget, testTarget } from "./support/target.ts";

const TABLES = 30;
const names = Array.from({ length: TABLES }, (_, i) => `t${String(i).padStart(2, "0")}`);

async function seedMany(target: TestTarget, db: string): Promise<void> {
  const conn = await target.connect();
  await r.dbCreate(db).run(conn);
  await Promise.all(names.map((name) => r.db(db).tableCreate(name).run(conn)));
  await Promise.all(names.map(async (name, i) => {
    const docs = Array.from({ length: 40 }, (_, k) => ({ id: k, v: `${name} ${k} `.repeat(16) }));
    await r.db(db).table(name).insert(docs).run(conn);
    if (i % 3 === 0) {
      await r.db(db).table(name).indexCreate("v").run(conn);
      await r.db(db).table(name).indexWait().run(conn);
    }
  }));
}

async function contents(target: TestTarget, db: string, table: string): Promise<unknown[]> {
  const conn = await target.connect();
  return await r.db(db).table(table).orderBy({ index: "id" }).run(conn);
}

Deno.test("restore through a proxy cutting 1, then 3 connections after 20 KB: every table equals its source", async () => {
  const target = await testTarget({ latency: { tableCreateMs: 20, indexWaitMs: 5 } });
  const dir = await Deno.makeTempDir();
  try {
    const db = target.uniqueDb("cut");
    await seedMany(target, db);
    const file = `${dir}/many.tar.gz`;
    const address = { host: target.host, port: target.port, password: target.password };
    await dump({ connect: address, file, exports: [db], progress: { quiet: true } });
    for (const cuts of [1, 3]) {
      const proxy = await startCuttingProxy({
        target: { host: target.host, port: target.port },
        // The first connection plans; the others create tables 64 at once, then insert.
        cuts: Array.from(
          { length: cuts },
          (_, i) => ({ connection: 2 + 2 * i, afterBytes: 20_000 }),
        ),
      });
      const copy = target.uniqueDb(`cut${cuts}`);
      const warnings: string[] = [];
      try {
        const summary = await restore({
          connect: { ...address, host: proxy.host, port: proxy.port },
          archive: file,
          renames: [`${db}=${copy}`],
          retryDelayMs: 20,
          progress: { write: (text) => warnings.push(text), intervalMs: 60_000 },
        });
        assert.equal(summary.tables, TABLES);
        assert.equal(summary.documents, TABLES * 40);
        assert.equal(summary.indexes, 10);
      } finally {
        await proxy.close();
      }
      assert.deepEqual([...proxy.cut].sort(), Array.from({ length: cuts }, (_, i) => 2 + 2 * i));
      const reconnects = warnings.filter((w) => /reconnecting in/.test(w));
      assert.equal(reconnects.length, cuts, `one reconnect per cut:\n${warnings.join("")}`);
      for (const name of names) {
        assert.deepEqual(await contents(target, copy, name), await contents(target, db, name));
      }
    }
  } finally {
    await target.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});
