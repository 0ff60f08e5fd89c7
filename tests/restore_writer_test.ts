/**
 * `insertBatches` bounds what is in flight: connections, and bytes when documents are large;
 * `whileDatabaseUnseen` waits out a new database that another connection does not see yet.
 */
import assert from "node:assert/strict";
import type { DocumentBatch } from "../src/archive/documents.ts";
import type { Connection } from "../src/connection/driver.ts";
import type { Link } from "../src/connection/link.ts";
import {
  insertBatches,
  MAX_BYTES_IN_FLIGHT,
  whileDatabaseUnseen,
  WriterPool,
} from "../src/restore/writer.ts";

/**
 * Links to a fake server that records the largest number of batches and bytes in flight, the
 * inserts and the syncs; `onInsert` sees each insert's documents as it arrives.
 */
function fakeLinks(count: number, onInsert?: (docs: { id: number }[]) => void) {
  const stats = {
    batches: 0,
    bytes: 0,
    maxBatches: 0,
    maxBytes: 0,
    inserted: 0,
    syncs: 0,
    events: [] as string[],
  };
  const conn = {
    async sync() {
      stats.syncs++;
      stats.events.push("sync");
      await new Promise((resolve) => setTimeout(resolve, 10));
      stats.events.push("synced");
    },
    async insertJson(_db: string, _table: string, text: Uint8Array) {
      const json = new TextDecoder().decode(text);
      const docs = JSON.parse(json) as { id: number }[];
      onInsert?.(docs);
      stats.events.push("insert");
      stats.batches++;
      stats.bytes += json.length - 2;
      stats.maxBatches = Math.max(stats.maxBatches, stats.batches);
      stats.maxBytes = Math.max(stats.maxBytes, stats.bytes);
      await new Promise((resolve) => setTimeout(resolve, 5));
      stats.batches--;
      stats.bytes -= json.length - 2;
      stats.inserted += docs.length;
      return {
        inserted: docs.length,
        replaced: 0,
        unchanged: 0,
        errors: 0,
        deleted: 0,
        skipped: 0,
      };
    },
  } as unknown as Connection;
  const link = {
    connection: () => Promise.resolve(conn),
    run: (work: (conn: Connection) => Promise<unknown>) => work(conn),
    succeeded() {},
    recover: (error: unknown) => Promise.reject(error),
  } as unknown as Link;
  return { links: Array.from({ length: count }, () => link), stats };
}

async function* batchesOf(sizes: number[]): AsyncGenerator<DocumentBatch> {
  let firstDocument = 0;
  for (const size of sizes) {
    const doc = `{"id":${firstDocument},"s":"${"x".repeat(size - 20)}"}`;
    const json = `[${doc}]`;
    const text = new TextEncoder().encode(json);
    yield { text, json, count: 1, bytes: doc.length, endOffset: 0, firstDocument };
    firstDocument++;
  }
}

const options = { durability: "soft", force: false } as const;

Deno.test("insertBatches: small batches fill every connection", async () => {
  const { links, stats } = fakeLinks(8);
  const written = await insertBatches(
    new WriterPool(links),
    "db",
    "t",
    batchesOf(Array(40).fill(1000)),
    options,
  );
  assert.equal(written, 40);
  assert.equal(stats.maxBatches, 8);
});

Deno.test("insertBatches: large documents go one at a time, the next one read meanwhile", async () => {
  const { links, stats } = fakeLinks(8);
  const big = MAX_BYTES_IN_FLIGHT * 0.6;
  const written = await insertBatches(
    new WriterPool(links),
    "db",
    "t",
    batchesOf([big, big, big, 1000, 1000]),
    options,
  );
  assert.equal(written, 5);
  assert.equal(stats.inserted, 5);
  assert.ok(stats.maxBytes <= MAX_BYTES_IN_FLIGHT, `${stats.maxBytes} bytes were in flight`);
  assert.ok(stats.maxBytes >= big, "the large documents were sent");
});

Deno.test("insertBatches: soft writes count once a checkpoint covers them; after a failure the batches not yet durable go again", async () => {
  const sent = new Map<number, number>();
  const restarted = { then: () => {} };
  const { links, stats } = fakeLinks(4, (docs) => {
    for (const { id } of docs) sent.set(id, (sent.get(id) ?? 0) + 1);
    // Another connection of the restore meets a restart while the 20th batch goes in.
    if (docs[0].id === 19 && sent.get(19) === 1) restarted.then();
  });
  const pool = new WriterPool(links);
  restarted.then = () => pool.noteFailure();
  const durable: number[] = [];
  const written = await insertBatches(pool, "db", "t", batchesOf(Array(40).fill(1000)), {
    ...options,
    onDurable: (documents) => durable.push(documents),
  });
  assert.equal(written, 40);
  assert.equal(durable.reduce((a, b) => a + b, 0), 40, "each document counted once, when durable");
  assert.ok(stats.syncs >= 1, "the table ends with a checkpoint");
  assert.deepEqual([...sent.keys()].sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i));
  // Every batch sent before the failure, acknowledged or not, goes again; none after it.
  for (const [id, times] of sent) {
    if (id < 19) assert.equal(times, 2, `batch ${id}`);
    if (id > 23) assert.equal(times, 1, `batch ${id}`);
  }
});

Deno.test("insertBatches: documents of tens of megabytes wait for the checkpoint of the one before", async () => {
  const { links, stats } = fakeLinks(4);
  const big = 20 * 1024 * 1024;
  const written = await insertBatches(
    new WriterPool(links),
    "db",
    "t",
    batchesOf([big, big, big]),
    options,
  );
  assert.equal(written, 3);
  // One kept for durability and one sent would be 40 MiB: each waits for the sync before it.
  assert.deepEqual(stats.events, [
    "insert",
    "sync",
    "synced",
    "insert",
    "sync",
    "synced",
    "insert",
    "sync",
    "synced",
  ]);
});

Deno.test("insertBatches: with hard durability every acknowledged batch is written, no checkpoint", async () => {
  const { links, stats } = fakeLinks(4);
  const written = await insertBatches(
    new WriterPool(links),
    "db",
    "t",
    batchesOf(Array(10).fill(1000)),
    { durability: "hard", force: false },
  );
  assert.equal(written, 10);
  assert.equal(stats.syncs, 0);
});

Deno.test("whileDatabaseUnseen: runs again until the new database is seen, other errors at once", async () => {
  let calls = 0;
  const created = await whileDatabaseUnseen("league", () => {
    calls++;
    if (calls < 3) return Promise.reject(new Error("Database `league` does not exist."));
    return Promise.resolve("created");
  });
  assert.equal(created, "created");
  assert.equal(calls, 3);

  calls = 0;
  await assert.rejects(
    whileDatabaseUnseen("league", () => {
      calls++;
      return Promise.reject(new Error("Table `league.users` already exists."));
    }),
    /already exists/,
  );
  assert.equal(calls, 1, "an error other than the unseen database is not retried");

  // Another database's absence is not this one's propagation delay.
  calls = 0;
  await assert.rejects(
    whileDatabaseUnseen("league", () => {
      calls++;
      return Promise.reject(new Error("Database `other` does not exist."));
    }),
    /`other` does not exist/,
  );
  assert.equal(calls, 1);
});

Deno.test("whileDatabaseUnseen: gives up with the server's error after its timeout", async () => {
  let calls = 0;
  const started = Date.now();
  await assert.rejects(
    whileDatabaseUnseen(
      "gone",
      () => {
        calls++;
        return Promise.reject(new Error("Database `gone` does not exist."));
      },
      undefined,
      100,
    ),
    /Database `gone` does not exist\./,
  );
  assert.ok(calls >= 2, `${calls} attempts`);
  assert.ok(Date.now() - started < 1000);
});
