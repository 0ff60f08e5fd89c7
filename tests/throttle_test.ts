/**
 * Pacing against the test server: a read's `roundTripMs` is the server's own round trip however
 * long the consumer holds each batch (what `--backoff` watches in a dump); a delay armed or lifted
 * mid-read; `dump` and `restore` with `--max-rate`, measured by when the server was asked for
 * each batch.
 */
import assert from "node:assert/strict";
import { connect } from "../src/connection/driver.ts";
import { dump } from "../src/dump/run.ts";
import { restore } from "../src/restore/run.ts";
import { parseRate } from "../src/throttle/rate.ts";
import { archiveOf, DOCUMENT_BYTES, paceOf, seedTable, watchServer } from "./support/pacing.ts";
import { faultsSkipReason, testTarget, withTarget } from "./support/target.ts";

Deno.test({
  name: "readTableRaw: roundTripMs is the server's round trip, not the consumer's pause",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    const target = await testTarget();
    const conn = await connect({ host: target.host, port: target.port });
    try {
      const db = target.uniqueDb("rt");
      await conn.createDatabase(db);
      await conn.createTable(db, "t", { primaryKey: "id" });
      await conn.insertJson(
        db,
        "t",
        JSON.stringify(Array.from({ length: 40 }, (_, id) => ({ id }))),
      );
      target.server!.faults.delayResponses(50);
      const trips: number[] = [];
      for await (
        const batch of conn.readTableRaw(db, "t", { primaryKey: "id", maxBatchRows: 10 })
      ) {
        trips.push(batch.roundTripMs!);
        // A paced consumer: the next batch arrives while this one is held.
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      assert.equal(trips.length, 4);
      for (const ms of trips) {
        assert.ok(ms >= 45, `a round trip holds the server's 50 ms delay: ${trips}`);
        assert.ok(ms < 250, `a round trip does not hold the consumer's 300 ms pause: ${trips}`);
      }
    } finally {
      target.server?.faults.reset();
      await conn.close();
      await target.cleanup();
    }
  },
});

Deno.test({
  name: "test server: a delay armed mid-read holds the cursor's next batches; reset lifts it",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    const target = await testTarget();
    const conn = await connect({ host: target.host, port: target.port });
    const faults = target.server!.faults;
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    try {
      const db = target.uniqueDb("rt");
      await conn.createDatabase(db);
      await conn.createTable(db, "t", { primaryKey: "id" });
      await conn.insertJson(
        db,
        "t",
        JSON.stringify(Array.from({ length: 70 }, (_, id) => ({ id }))),
      );
      const trips: number[] = [];
      for await (
        const batch of conn.readTableRaw(db, "t", { primaryKey: "id", maxBatchRows: 10 })
      ) {
        trips.push(batch.roundTripMs!);
        // Batch 2 was asked for (and answered) before batch 1 was handed on: the delay holds
        // batches 3 to 5; batch 5 was asked for (and held) before batch 4 was: batch 6 is not.
        await pause(20);
        if (trips.length === 2) faults.delayResponses(150);
        if (trips.length === 5) faults.reset();
      }
      assert.equal(trips.length, 7, `${trips}`);
      const slow = trips.map((ms) => ms >= 140);
      assert.deepEqual(slow, [false, false, false, true, true, true, false], `${trips}`);
    } finally {
      faults.reset();
      await conn.close();
      await target.cleanup();
    }
  },
});

/**
 * Within 10% of `limit` above, the ceiling that matters; below, a machine busy with other work
 * may not keep up with the limit (seen: 891/s for 1000/s with both cores taken), so only a run
 * far slower than the limit, which pacing gone wrong would give, fails.
 */
function assertNear(measured: number, limit: number, what: string): void {
  assert.ok(
    measured / limit <= 1.1 && measured / limit >= 0.6,
    `${what}: ${measured.toFixed(0)}/s, the limit ${limit}/s`,
  );
}

Deno.test({
  name: "dump --max-rate: 3,000 documents at 1000/s, then bytes at 100KB/s, paced within 10%",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    await withTarget(async (target, dir) => {
      const db = target.uniqueDb("mr");
      await seedTable(target, db, 3000);
      const base = {
        connect: { host: target.host, port: target.port, password: target.password },
        exports: [db],
        // 30 batches: the pace is seen batch by batch.
        readBatchRows: 100,
      };
      const lines: string[] = [];
      const docs = watchServer(target);
      const summary = await dump({
        ...base,
        file: `${dir}/docs.tar.gz`,
        maxRate: parseRate("1000/s"),
        progress: { write: (text) => void lines.push(text), tty: false, intervalMs: 400 },
      });
      target.server!.faults.reset();
      assert.equal(summary.documents, 3000);
      assert.equal(docs.reads.length, 30);
      assertNear(paceOf(docs.reads.slice(1), 100), 1000, "documents");
      assert.ok(
        lines.some((line) => /docs\/s \(limited by --max-rate 1000\/s\) \|/.test(line)),
        lines.join(""),
      );

      const bytes = watchServer(target);
      const second = await dump({
        ...base,
        file: `${dir}/bytes.tar.gz`,
        maxRate: parseRate("100KB/s"),
        progress: { quiet: true },
      });
      target.server!.faults.reset();
      assert.equal(second.documents, 3000);
      const perDocument = second.jsonBytes / 3000;
      assertNear(paceOf(bytes.reads.slice(1), 100 * perDocument), 100_000, "bytes");
    });
  },
});

Deno.test({
  name: "dump --max-rate: one limit for every table in flight (3 tables of 1,000, --clients 3)",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    await withTarget(async (target, dir) => {
      const dbs = [target.uniqueDb("mr"), target.uniqueDb("mr"), target.uniqueDb("mr")];
      for (const db of dbs) await seedTable(target, db, 1000);
      const view = watchServer(target);
      const summary = await dump({
        connect: { host: target.host, port: target.port, password: target.password },
        exports: dbs,
        clients: 3,
        readBatchRows: 100,
        file: `${dir}/b.tar.gz`,
        maxRate: parseRate("1000/s"),
        progress: { quiet: true },
      });
      const ended = performance.now();
      target.server!.faults.reset();
      assert.equal(summary.documents, 3000);
      // Three reads at once, each a batch ahead: from the server's first request to the end,
      // every document but the burst was paid for.
      assertNear(3000 / ((ended - view.reads[0]) / 1000), 1000, "documents, three tables");
    });
  },
});

Deno.test({
  name: "restore --max-rate: 3,000 documents at 1000/s, then bytes at 100KB/s, paced within 10%",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    await withTarget(async (target, dir) => {
      const db = target.uniqueDb("mr");
      await seedTable(target, db, 3000);
      const archive = `${dir}/a.tar.gz`;
      await archiveOf(target, db, archive);
      const run = async (maxRate: string) => {
        const into = target.uniqueDb("mr");
        const view = watchServer(target);
        const summary = await restore({
          connect: { host: target.host, port: target.port, password: target.password },
          archive,
          renames: [`${db}=${into}`],
          batchSize: 100,
          maxRate: parseRate(maxRate),
          progress: { quiet: true },
        });
        target.server!.faults.reset();
        assert.equal(summary.documents, 3000);
        assert.equal(view.inserts.length, 30);
        return view.inserts;
      };
      assertNear(paceOf(await run("1000/s"), 100), 1000, "documents");
      // A restore batch's bytes: its documents' JSON, separators not counted.
      assertNear(paceOf(await run("100KB/s"), 100 * DOCUMENT_BYTES), 100_000, "bytes");
    });
  },
});
