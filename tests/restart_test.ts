/**
 * `dump` and `restore` through a simulated server restart (the test server's
 * `faults.restart`): connections drop, connecting is refused for a moment, then the tables
 * answer "primary replica … not available" for a while, and soft writes since the last
 * `sync()` are lost. Each stage must ride it out and end with nothing lost or doubled.
 */
import assert from "node:assert/strict";
import { r } from "npm:rethinkdb-ts@3.0.0";
import { readArchive } from "../src/archive/tar_reader.ts";
import { dump } from "../src/dump/run.ts";
import { restore } from "../src/restore/run.ts";
import { TermType } from "./server/reql/proto.ts";
import { faultsSkipReason, type TestTarget, testTarget, withTarget } from "./support/target.ts";

const RESTART = { downMs: 150, unavailableMs: 400 };

function connectOf(target: TestTarget) {
  return { host: target.host, port: target.port, password: target.password };
}

/** A table of `count` documents with a secondary index, synced. */
async function seed(target: TestTarget, db: string, count: number): Promise<void> {
  const conn = await target.connect();
  await r.dbCreate(db).run(conn);
  await r.db(db).tableCreate("t").run(conn);
  for (let i = 0; i < count; i += 1000) {
    const docs = Array.from(
      { length: Math.min(1000, count - i) },
      (_, k) => ({ id: i + k, v: `value ${i + k}` }),
    );
    await r.db(db).table("t").insert(docs).run(conn);
  }
  await r.db(db).table("t").indexCreate("v").run(conn);
  await r.db(db).table("t").sync().run(conn);
}

async function contents(target: TestTarget, db: string, table: string): Promise<unknown[]> {
  const conn = await target.connect();
  return await r.db(db).table(table).orderBy({ index: "id" }).run(conn);
}

Deno.test({
  name: "restart: a dump rides out a restart in the middle of a read, every document once",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    await withTarget(async (target, dir) => {
      const db = target.uniqueDb("rsd");
      await seed(target, db, 20_000);
      const faults = target.server!.faults;
      // The restart comes once 5,000 documents have been sent: in the middle of the read.
      let sent = 0;
      const allow = faults.allowDocuments.bind(faults);
      faults.allowDocuments = (count: number) => {
        sent += count;
        if (sent > 5000 && faults.restarts === 0) void faults.restart(RESTART);
        return allow(count);
      };
      const warnings: string[] = [];
      const file = `${dir}/d.tar.gz`;
      const summary = await dump({
        connect: connectOf(target),
        file,
        exports: [db],
        retryDelayMs: 20,
        progress: { write: (text) => warnings.push(text), intervalMs: 60_000 },
      });
      assert.equal(faults.restarts, 1);
      assert.equal(summary.documents, 20_000);
      assert.ok(warnings.some((w) => /reconnecting in/.test(w)), warnings.join(""));
      assert.ok(
        warnings.some((w) => new RegExp(`waiting for table ${db}\\.t to be ready`).test(w)),
        warnings.join(""),
      );
      const file_ = await Deno.open(file);
      let ids: number[] = [];
      for await (const entry of readArchive(file_.readable)) {
        if (entry.path.endsWith("/t.json")) {
          ids = (JSON.parse(await new Response(entry.body).text()) as { id: number }[])
            .map((d) => d.id);
        } else await entry.body.cancel();
      }
      assert.deepEqual(ids, Array.from({ length: 20_000 }, (_, i) => i), "each once, in order");
    });
  },
});

Deno.test({
  name:
    "restart: a restore rides out a restart that loses acknowledged soft writes; the table equals the source and written counts what is durable",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    await withTarget(async (target, dir) => {
      const db = target.uniqueDb("rsr");
      await seed(target, db, 5000);
      const file = `${dir}/r.tar.gz`;
      await dump({ connect: connectOf(target), file, exports: [db], progress: { quiet: true } });
      const faults = target.server!.faults;
      let inserts = 0;
      faults.delayResponses(5, (query) => {
        if (query.termType !== TermType.INSERT || ++inserts !== 25) return false;
        // Half the table is acknowledged (soft) and not yet synced: the restart loses it.
        setTimeout(() => void faults.restart(RESTART), 2);
        return true;
      });
      const copy = target.uniqueDb("rsr_copy");
      const warnings: string[] = [];
      const summary = await restore({
        connect: connectOf(target),
        archive: file,
        renames: [`${db}=${copy}`],
        batchSize: 100,
        clients: 3,
        retryDelayMs: 20,
        progress: { write: (text) => warnings.push(text), intervalMs: 60_000 },
      });
      assert.equal(faults.restarts, 1);
      assert.ok(faults.lastRestartLost > 0, "the restart lost acknowledged soft writes");
      assert.equal(summary.documents, 5000, "written: each document once, once durable");
      assert.equal(summary.tables, 1);
      assert.deepEqual(await contents(target, copy, "t"), await contents(target, db, "t"));
      const conn = await target.connect();
      assert.deepEqual(await r.db(copy).table("t").indexList().run(conn), ["v"]);
      assert.ok(warnings.some((w) => /restoring .*: .*reconnecting in/.test(w)), warnings.join(""));
    });
  },
});

Deno.test({
  name:
    "restart: a restore of many tables rides out a restart while tables are being created, indexes built and hooks set",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    await withTarget(async (target, dir) => {
      const db = target.uniqueDb("rsm");
      const conn = await target.connect();
      await r.dbCreate(db).run(conn);
      const names = Array.from({ length: 40 }, (_, i) => `t${String(i).padStart(2, "0")}`);
      for (const [i, name] of names.entries()) {
        await r.db(db).tableCreate(name).run(conn);
        await r.db(db).table(name).insert(
          Array.from({ length: 30 }, (_, k) => ({ id: k, v: `${name} ${k}` })),
        ).run(conn);
        if (i % 3 === 0) await r.db(db).table(name).indexCreate("v").run(conn);
        if (i % 5 === 0) {
          await r.db(db).table(name).setWriteHook((_ctx: unknown, _old: unknown, row: unknown) =>
            row
          ).run(conn);
        }
      }
      const file = `${dir}/m.tar.gz`;
      await dump({ connect: connectOf(target), file, exports: [db], progress: { quiet: true } });
      const faults = target.server!.faults;
      // Three restarts: amid the table creations, the index builds and the write hooks.
      const when = new Map<number, number>([
        [TermType.TABLE_CREATE, 20],
        [TermType.INDEX_CREATE, 5],
        [TermType.SET_WRITE_HOOK, 3],
      ]);
      const seen = new Map<number, number>();
      faults.delayResponses(5, (query) => {
        const type = query.termType!;
        const n = (seen.get(type) ?? 0) + 1;
        seen.set(type, n);
        if (when.get(type) !== n) return false;
        setTimeout(() => void faults.restart(RESTART), 1);
        return true;
      });
      const copy = target.uniqueDb("rsm_copy");
      const summary = await restore({
        connect: connectOf(target),
        archive: file,
        renames: [`${db}=${copy}`],
        clients: 4,
        retryDelayMs: 20,
        progress: { quiet: true },
      });
      assert.equal(faults.restarts, 3);
      assert.equal(summary.tables, 40);
      assert.equal(summary.documents, 40 * 30);
      assert.equal(summary.indexes, 14);
      assert.equal(summary.writeHooks, 8);
      const check = await target.connect();
      for (const name of names) {
        assert.deepEqual(await contents(target, copy, name), await contents(target, db, name));
      }
      assert.deepEqual(await r.db(copy).table("t03").indexList().run(check), ["v"]);
      assert.ok(await r.db(copy).table("t05").getWriteHook().run(check));
    }, testTarget({ latency: { tableCreateMs: 30, indexWaitMs: 10 } }));
  },
});
