/**
 * Point-in-time dumps (change capture): writes made while a dump reads are captured, and the
 * archive, its changes replayed, holds every table as it was at the cut. Run against the test
 * server, and against a real one with `RETHINKDB_TEST_SERVER`.
 */
import assert from "node:assert/strict";
import { r } from "npm:rethinkdb-ts@3.0.0";
import { ChangeLines, decodeChange } from "../src/archive/changes.ts";
import { parseEntryPath } from "../src/archive/layout.ts";
import { decodeInfo } from "../src/archive/table_info.ts";
import { readArchive } from "../src/archive/tar_reader.ts";
import { dump } from "../src/dump/run.ts";
import { restore } from "../src/restore/run.ts";
import { parseRate } from "../src/throttle/rate.ts";
import { faultsSkipReason, type TestTarget, testTarget, withTarget } from "./support/target.ts";

function connectOf(target: TestTarget) {
  return { host: target.host, port: target.port, password: target.password };
}

/** Tables `a` and `b` of `count` documents each. */
async function seed(target: TestTarget, db: string, count: number): Promise<void> {
  const conn = await target.connect();
  await r.dbCreate(db).run(conn);
  for (const table of ["a", "b"]) {
    await r.db(db).tableCreate(table).run(conn);
    const docs = Array.from({ length: count }, (_, id) => ({ id, v: -1, neg: -0.0 }));
    await r.db(db).table(table).insert(docs).run(conn);
  }
  await conn.close();
}

/** Each table's documents by key (JSON text), as the server has them now. */
async function contents(target: TestTarget, db: string): Promise<Map<string, Map<string, string>>> {
  const conn = await target.connect();
  const tables = new Map<string, Map<string, string>>();
  for (const table of ["a", "b"]) {
    const docs = await r.db(db).table(table).run(conn) as { id: number }[];
    tables.set(table, new Map(docs.map((doc) => [JSON.stringify(doc.id), JSON.stringify(doc)])));
  }
  await conn.close();
  return tables;
}

interface ArchiveState {
  tables: Map<string, Map<string, string>>;
  changes: Map<string, number>;
  cuts: Set<string>;
  changesEntries: number;
}

/** Each table as the archive gives it: the `.json` with the `.changes` replayed. */
async function archiveState(file: string): Promise<ArchiveState> {
  const state: ArchiveState = {
    tables: new Map(),
    changes: new Map(),
    cuts: new Set(),
    changesEntries: 0,
  };
  const decoder = new TextDecoder();
  for await (const entry of readArchive((await Deno.open(file)).readable)) {
    const path = parseEntryPath(entry.path)!;
    const bytes = new Uint8Array(await new Response(entry.body).arrayBuffer());
    const table = state.tables.get(path.table) ?? new Map<string, string>();
    state.tables.set(path.table, table);
    if (path.ext === "info") {
      const capture = decodeInfo(bytes, entry.path).backup?.capture;
      if (capture) {
        state.cuts.add(capture.cut);
        state.changes.set(path.table, capture.changes);
      }
    } else if (path.ext === "json") {
      for (const doc of JSON.parse(decoder.decode(bytes))) {
        table.set(JSON.stringify(doc.id), JSON.stringify(doc));
      }
    } else if (path.ext === "changes") {
      state.changesEntries++;
      const lines = new ChangeLines();
      lines.push(bytes, (line) => {
        const change = decodeChange(line);
        const key = JSON.stringify(JSON.parse(decoder.decode(change.key)));
        if (change.newVal === null) table.delete(key);
        else table.set(key, JSON.stringify(JSON.parse(decoder.decode(change.newVal))));
      });
      lines.finish();
    }
  }
  return state;
}

/**
 * A serial writer on tables `a` and `b`: inserts, updates and deletes, each acknowledged before
 * the next, until `stop` resolves. Returns the number of operations.
 */
async function write(target: TestTarget, db: string, count: number, stop: Promise<void>) {
  const conn = await target.connect();
  let stopped = false;
  stop.then(() => (stopped = true));
  let ops = 0;
  let next = count;
  while (!stopped) {
    const table = r.db(db).table(ops % 2 === 0 ? "a" : "b");
    const id = (ops * 7919) % count;
    if (ops % 3 === 0) await table.insert({ id: next++, v: ops, neg: -0.0 }).run(conn);
    else if (ops % 3 === 1) await table.get(id).update({ v: ops }).run(conn);
    else await table.get(id).delete().run(conn);
    ops++;
  }
  await conn.close();
  return ops;
}

Deno.test("point in time: writes made during the read are in the archive, which holds the cut", async () => {
  const target = await testTarget();
  const dir = await Deno.makeTempDir();
  try {
    const db = target.uniqueDb("pit");
    const count = 3000;
    await seed(target, db, count);
    // The read is paced to last at least 3 s; the writer stops after 1.5 s, so every write is
    // acknowledged before the cut, and the archive must equal the tables as they end.
    let stopWriter!: () => void;
    const stop = new Promise<void>((resolve) => (stopWriter = resolve));
    const timer = setTimeout(stopWriter, 1500);
    const writer = write(target, db, count, stop);
    const file = `${dir}/pit.tar.gz`;
    const summary = await dump({
      connect: connectOf(target),
      file,
      exports: [db],
      clients: 1,
      maxRate: parseRate("2000/s"),
      progress: { quiet: true },
    });
    clearTimeout(timer);
    stopWriter();
    const ops = await writer;
    const archived = await archiveState(file);
    const source = await contents(target, db);
    assert.ok(ops > 10, `the writer made ${ops} operations`);
    assert.ok(summary.changes > 0, "changes were captured");
    assert.equal(archived.cuts.size, 1, "one cut for every table");
    assert.equal([...archived.changes.values()].reduce((a, b) => a + b, 0), summary.changes);
    for (const table of ["a", "b"]) {
      assert.deepEqual(archived.tables.get(table), source.get(table), `table ${table}`);
    }
    // And restored, from the file and from a stream: the replay brings the tables to the cut.
    for (const [suffix, archive] of [["f", file], ["s", "-"]] as const) {
      const copy = target.track(`${db}_${suffix}`);
      const restored = await restore({
        connect: connectOf(target),
        archive,
        input: archive === "-" ? (await Deno.open(file)).readable : undefined,
        renames: [`${db}=${copy}`],
        progress: { quiet: true },
      });
      assert.equal(restored.changes, summary.changes, `${archive}: changes replayed`);
      const back = await contents(target, copy);
      for (const table of ["a", "b"]) {
        assert.deepEqual(back.get(table), source.get(table), `${archive}: table ${table}`);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
    await target.cleanup();
  }
});

Deno.test("point in time: --no-capture writes no .changes entry and no capture record", async () => {
  const target = await testTarget();
  const dir = await Deno.makeTempDir();
  try {
    const db = target.uniqueDb("pitoff");
    await seed(target, db, 20);
    const file = `${dir}/off.tar.gz`;
    const summary = await dump({
      connect: connectOf(target),
      file,
      exports: [db],
      capture: false,
      progress: { quiet: true },
    });
    const archived = await archiveState(file);
    assert.equal(summary.cut, undefined);
    assert.equal(archived.cuts.size, 0);
    assert.equal(archived.changesEntries, 0);
    assert.equal(archived.tables.get("a")!.size, 20);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await target.cleanup();
  }
});

/** Dumps `db` into `file`, collecting the progress output (warnings included). */
async function dumpCollecting(target: TestTarget, db: string, file: string, output: string[]) {
  return await dump({
    connect: connectOf(target),
    file,
    exports: [db],
    retryDelayMs: 20,
    progress: { write: (text) => output.push(text), intervalMs: 60_000 },
  });
}

Deno.test({
  name: "point in time: a feed that overflows makes its table be read again under a new feed",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    await withTarget(async (target, dir) => {
      const db = target.uniqueDb("pitover");
      await seed(target, db, 500);
      // The first feed on `a` reports skipped changes right after it is ready.
      target.server!.faults.overflowFeeds({ db, table: "a" }, 1);
      const output: string[] = [];
      const file = `${dir}/over.tar.gz`;
      const summary = await dumpCollecting(target, db, file, output);
      assert.equal(summary.documents, 1000);
      assert.ok(
        output.some((line) =>
          /Changefeed cache over array size limit, skipped \d+ elements?\.; reading .*\.a again/
            .test(line)
        ),
        output.join(""),
      );
      const archived = await archiveState(file);
      assert.equal(archived.cuts.size, 1);
      const source = await contents(target, db);
      for (const table of ["a", "b"]) {
        assert.deepEqual(archived.tables.get(table), source.get(table), `table ${table}`);
      }
    });
  },
});

Deno.test({
  name: "point in time: a feed aborted in the middle of the read makes its table be read again",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    await withTarget(async (target, dir) => {
      const db = target.uniqueDb("pitabort");
      await seed(target, db, 3000);
      const faults = target.server!.faults;
      // Once 1,000 documents have been sent (the middle of the first table's read), every feed
      // on the database is aborted, as when a table becomes unavailable.
      let sent = 0;
      let aborted = 0;
      const allow = faults.allowDocuments.bind(faults);
      faults.allowDocuments = (count: number) => {
        sent += count;
        if (sent > 1000 && aborted === 0) aborted = faults.abortFeeds({ db });
        return allow(count);
      };
      const output: string[] = [];
      const file = `${dir}/abort.tar.gz`;
      const summary = await dumpCollecting(target, db, file, output);
      assert.ok(aborted > 0, "a feed was aborted");
      assert.equal(summary.documents, 6000);
      assert.ok(
        output.some((line) => /Changefeed aborted \(unavailable\)\.; reading/.test(line)),
        output.join(""),
      );
      const archived = await archiveState(file);
      const source = await contents(target, db);
      for (const table of ["a", "b"]) {
        assert.deepEqual(archived.tables.get(table), source.get(table), `table ${table}`);
      }
    });
  },
});

Deno.test({
  name:
    "point in time: a table whose feed keeps failing stops the dump with one line and no archive",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    await withTarget(async (target, dir) => {
      const db = target.uniqueDb("pitfail");
      await seed(target, db, 50);
      target.server!.faults.overflowFeeds({ db, table: "b" }, 100);
      const file = `${dir}/fail.tar.gz`;
      await assert.rejects(
        dumpCollecting(target, db, file, []),
        (error: Error) => {
          assert.match(
            error.message,
            /\.b: its changes could not be captured in 3 reads \(.*skipped.*\): the dump cannot hold one point in time; .*--no-capture/,
          );
          assert.ok(!error.message.includes("\n"), "one line");
          return true;
        },
      );
      assert.deepEqual([...Deno.readDirSync(dir)], [], "no archive, no spool left behind");
    });
  },
});
