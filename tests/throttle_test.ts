/**
 * Pacing against the test server: a read's `roundTripMs` is the server's own round trip however
 * long the consumer holds each batch (what `--backoff` watches in a dump).
 */
import assert from "node:assert/strict";
import { connect } from "../src/connection/driver.ts";
import { faultsSkipReason, testTarget } from "./support/target.ts";

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
