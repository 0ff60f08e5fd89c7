/**
 * Restoring many small tables overlaps their creation, as it must on a real server where a
 * `tableCreate` takes about 270 ms: the in-process server models that latency, and the test
 * counts how many creations were in flight at once (not wall-clock time). From stdin too: the
 * data of tables not yet created is held while the stream reads on.
 */
import assert from "node:assert/strict";
import { r } from "npm:rethinkdb-ts@3.0.0";
import { dump } from "../src/dump/run.ts";
import { restore } from "../src/restore/run.ts";
import { inProcessTarget, withTarget } from "./support/target.ts";

const TABLE_CREATE = 60;

for (const fromStdin of [false, true]) {
  Deno.test(
    `restore: many small tables are created concurrently and all restored${
      fromStdin ? " (archive on stdin)" : ""
    }`,
    () => manyTables(fromStdin),
  );
}

async function manyTables(fromStdin: boolean): Promise<void> {
  const latencyMs = 150;
  await withTarget(async (target, dir) => {
    const connect = { host: target.host, port: target.port, password: target.password };
    const db = target.uniqueDb("many");
    const conn = await target.connect();
    await r.dbCreate(db).run(conn);
    const names = Array.from({ length: 24 }, (_, i) => `t${String(i).padStart(2, "0")}`);
    await Promise.all(names.map(async (name, i) => {
      await r.db(db).tableCreate(name).run(conn);
      await r.db(db).table(name).insert(
        Array.from({ length: 5 }, (_, k) => ({ id: k, tag: `v${k % 2}` })),
      ).run(conn);
      if (i % 3 === 0) await r.db(db).table(name).indexCreate("tag").run(conn);
    }));
    const file = `${dir}/many.tar.gz`;
    await dump({ connect, file, exports: [db], progress: { quiet: true } });

    const starts: number[] = [];
    target.server!.faults.delayResponses(0, (query) => {
      if (query.termType === TABLE_CREATE) starts.push(performance.now());
      return false;
    });
    const copy = target.uniqueDb("many_copy");
    const summary = await restore({
      connect,
      archive: fromStdin ? "-" : file,
      input: fromStdin ? (await Deno.open(file)).readable : undefined,
      renames: [`${db}=${copy}`],
      progress: { quiet: true },
    });
    assert.equal(summary.tables, names.length);
    assert.equal(summary.documents, names.length * 5);
    assert.equal(summary.indexes, 8);
    assert.deepEqual((await r.db(copy).tableList().run(conn)).sort(), names);

    // Creations whose modelled latency windows overlap were in flight together.
    const inFlight = Math.max(
      ...starts.map((t) => starts.filter((s) => s >= t && s < t + latencyMs).length),
    );
    assert.equal(starts.length, names.length);
    assert.ok(inFlight >= 8, `at most ${inFlight} table creations in flight at once`);
  }, inProcessTarget({ latency: { tableCreateMs: latencyMs, indexWaitMs: 30 } }));
}
