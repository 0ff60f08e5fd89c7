/**
 * `restore` of a point-in-time archive: each table's `.changes` replayed over its documents
 * brings it to the cut, from a file and from stdin, with `-i`, `--rename` and `--force`,
 * through dropped connections and a restart that loses soft writes; the dry run and the summary
 * count the changes. Against the test server, or a real one with RETHINKDB_TEST_SERVER (the
 * fault tests need the test server).
 */
import assert from "node:assert/strict";
import { r } from "npm:rethinkdb-ts@3.0.0";
import { main } from "../src/cli/main.ts";
import { BackupError } from "../src/errors.ts";
import { restore, type RestoreInput } from "../src/restore/run.ts";
import type { RestoreOptions } from "../src/restore/options.ts";
import {
  applyChanges,
  captureEntries,
  CUT,
  type Doc,
  sortByKey,
  type TestChange,
} from "./support/capture_archive.ts";
import { startCuttingProxy } from "./support/proxy.ts";
import { rawTar, rawTarGz } from "./support/raw_tar.ts";
import { faultsSkipReason, type TestTarget, testTarget, withTarget } from "./support/target.ts";
import type { QueryInfo } from "./server/faults.ts";

const INSERT = 56;
const DELETE = 54;

const docs = (n: number, from = 0): Doc[] =>
  Array.from({ length: n }, (_, i) => ({ id: from + i, name: `user ${from + i}`, n: i * 0.5 }));

/**
 * Changes of every sort over `docs(count)`: updates, deletes, inserts of new keys, a key
 * changed many times (deleted and inserted again between), a delete of a key the documents
 * never held, and long runs of one kind (so batches fill up).
 */
function mixedChanges(count: number): TestChange[] {
  const changes: TestChange[] = [];
  for (let i = 0; i < count; i += 3) {
    changes.push({ key: i, new_val: { id: i, name: `updated ${i}` } });
  }
  for (let i = 1; i < count; i += 7) changes.push({ key: i, new_val: null });
  for (let i = 0; i < 20; i++) {
    changes.push({ key: 10_000 + i, new_val: { id: 10_000 + i, name: "new", tags: ["a", i] } });
  }
  for (let round = 0; round < 12; round++) {
    changes.push(
      round % 4 === 3
        ? { key: 2, new_val: null }
        : { key: 2, new_val: { id: 2, name: `round ${round}`, round } },
    );
  }
  changes.push({ key: 99_999, new_val: null }); // never in the table
  changes.push({ key: 10_005, new_val: null }); // inserted above, deleted again
  changes.push({ key: "text key", new_val: { id: "text key", nested: { a: [1, { b: null }] } } });
  return changes;
}

interface Fixture {
  db: string;
  tables: { name: string; docs: Doc[]; changes: TestChange[] }[];
  /** The archive, plain tar. */
  tar: Uint8Array;
  file: string;
}

async function fixture(target: TestTarget, dir: string, prefix = "pit"): Promise<Fixture> {
  const db = target.uniqueDb(prefix);
  const tables = [
    { name: "users", docs: docs(300), changes: mixedChanges(300) },
    { name: "quiet", docs: docs(5), changes: [] },
    { name: "empty", docs: [], changes: [{ key: 1, new_val: { id: 1, name: "only" } }] },
  ];
  const tar = rawTar(tables.flatMap((t) => captureEntries({ db, table: t.name, ...t })));
  const file = `${dir}/${db}.tar.gz`;
  await Deno.writeFile(
    file,
    rawTarGz(tables.flatMap((t) => captureEntries({ db, table: t.name, ...t }))),
  );
  return { db, tables, tar, file };
}

function options(
  target: TestTarget,
  extra: Partial<RestoreOptions & RestoreInput>,
): RestoreOptions & RestoreInput {
  return {
    connect: { host: target.host, port: target.port, password: target.password },
    archive: "-",
    progress: { quiet: true },
    retryDelayMs: 10,
    ...extra,
  };
}

async function contents(target: TestTarget, db: string, table: string): Promise<Doc[]> {
  const conn = await target.connect();
  return sortByKey(await r.db(db).table(table).run(conn));
}

const total = (f: Fixture) => f.tables.reduce((n, t) => n + t.changes.length, 0);

/** A stream of `bytes` in chunks, pausing `pauseMs` once `pauseAt` bytes are out. */
function slowStream(
  bytes: Uint8Array,
  pauseAt: number,
  pauseMs: number,
): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    async pull(controller) {
      if (offset >= bytes.length) return controller.close();
      if (offset === pauseAt) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      const end = offset < pauseAt ? Math.min(pauseAt, offset + 4096) : offset + 4096;
      controller.enqueue(bytes.slice(offset, end));
      offset = end;
    },
  });
}

Deno.test("replay: from a file and from stdin, every table ends as it was at the cut", async () => {
  const target = await testTarget();
  const dir = await Deno.makeTempDir();
  try {
    const f = await fixture(target, dir);
    const runs: [string, Partial<RestoreOptions & RestoreInput>][] = [
      ["file", { archive: f.file, batchSize: 7 }],
      ["stdin", { input: ReadableStream.from([f.tar]), batchSize: 7 }],
      ["stdin, default batches, hard durability", {
        input: ReadableStream.from([f.tar]),
        hardDurability: true,
      }],
    ];
    for (const [how, extra] of runs) {
      const copy = target.uniqueDb("pit_copy");
      const summary = await restore(options(target, { renames: [`${f.db}=${copy}`], ...extra }));
      assert.equal(summary.tables, 3, how);
      assert.equal(summary.documents, 305, how);
      assert.equal(summary.changes, total(f), how);
      assert.equal(summary.cut, CUT, how);
      assert.deepEqual(summary.changesByTable, {
        [`${copy}.users`]: f.tables[0].changes.length,
        [`${copy}.empty`]: 1,
      });
      for (const t of f.tables) {
        assert.deepEqual(
          await contents(target, copy, t.name),
          applyChanges(t.docs, t.changes),
          `${how}: ${t.name}`,
        );
      }
    }
  } finally {
    await target.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("replay: from stdin, a table ready before its data streams its documents, then its changes", async () => {
  const target = await testTarget();
  const dir = await Deno.makeTempDir();
  try {
    const f = await fixture(target, dir);
    // The stream pauses after the first .info: the table is ready when its .json arrives, so
    // neither that nor the .changes is held in memory.
    const firstInfo = 512 + Math.ceil(
      rawTar(captureEntries({ db: f.db, table: "users", ...f.tables[0] }).slice(0, 1)).length -
        1024 - 512,
    );
    const copy = target.uniqueDb("pit_slow");
    const summary = await restore(
      options(target, {
        input: slowStream(f.tar, firstInfo - (firstInfo % 512), 300),
        renames: [`${f.db}=${copy}`],
        batchSize: 11,
      }),
    );
    assert.equal(summary.changes, total(f));
    for (const t of f.tables) {
      assert.deepEqual(await contents(target, copy, t.name), applyChanges(t.docs, t.changes));
    }
  } finally {
    await target.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("replay: -i and --rename: only the selected tables replay, under their new names", async () => {
  const target = await testTarget();
  const dir = await Deno.makeTempDir();
  try {
    const f = await fixture(target, dir);
    for (const archive of ["file", "stdin"]) {
      const to = target.uniqueDb("pit_to");
      const summary = await restore(
        options(target, {
          ...(archive === "file" ? { archive: f.file } : { input: ReadableStream.from([f.tar]) }),
          imports: [`${f.db}.users`, `${f.db}.quiet`],
          renames: [`${f.db}.users=${to}.people`, `${f.db}=${to}`],
        }),
      );
      assert.equal(summary.tables, 2, archive);
      assert.equal(summary.changes, f.tables[0].changes.length, archive);
      const conn = await target.connect();
      assert.deepEqual((await r.db(to).tableList().run(conn)).sort(), ["people", "quiet"]);
      assert.deepEqual(
        await contents(target, to, "people"),
        applyChanges(f.tables[0].docs, f.tables[0].changes),
      );
      assert.deepEqual(await contents(target, to, "quiet"), f.tables[1].docs);
    }
  } finally {
    await target.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("replay: a table left out by -i still has its .changes checked; a bad one refuses the restore", async () => {
  const target = await testTarget();
  const dir = await Deno.makeTempDir();
  try {
    const db = target.uniqueDb("pit_left");
    const entries = [
      ...captureEntries({ db, table: "a", docs: docs(10), changes: mixedChanges(10) }),
      ...captureEntries({
        db,
        table: "b",
        docs: docs(10),
        changes: mixedChanges(10),
        changesBody: '{"key":1,"new_val":{"id":1}}\n{"key":2,"new_val":{"id":3}}\n',
      }),
    ];
    const file = `${dir}/left.tar.gz`;
    await Deno.writeFile(file, rawTarGz(entries));
    for (const source of [{ archive: file }, { input: ReadableStream.from([rawTar(entries)]) }]) {
      const error = await restore(options(target, { ...source, imports: [`${db}.a`] })).catch((
        e,
      ) => e);
      assert.ok(error instanceof BackupError, String(error));
      assert.match(
        error.message,
        /b\.changes: line 2: the document's primary key "id" is 3, not the change's key 2/,
      );
      const conn = await target.connect();
      assert.ok(!(await r.dbList().run(conn)).includes(db), "nothing left");
    }
  } finally {
    await target.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("replay: --force into an existing table replaces and deletes by key, its write hook not applied", async () => {
  const target = await testTarget();
  const dir = await Deno.makeTempDir();
  try {
    const f = await fixture(target, dir);
    const conn = await target.connect();
    await r.dbCreate(f.db).run(conn);
    await r.db(f.db).tableCreate("users").run(conn);
    // Documents the archive does not hold stay; those it holds are replaced, then changed.
    const before = [{ id: 1, stale: true }, { id: 50_000, kept: true }];
    await r.db(f.db).table("users").insert(before).run(conn);
    await r.db(f.db).table("users").setWriteHook(
      (_context: unknown, _old: unknown, next: { merge(o: unknown): unknown }) =>
        next.merge({ touched: true }),
    ).run(conn);
    const summary = await restore(
      options(target, { archive: f.file, force: true, imports: [`${f.db}.users`] }),
    );
    assert.equal(summary.changes, f.tables[0].changes.length);
    const want = applyChanges([...f.tables[0].docs, before[1]], f.tables[0].changes);
    assert.deepEqual(await contents(target, f.db, "users"), want);
  } finally {
    await target.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("replay: the CLI's dry run and summary count the changes", async () => {
  const target = await testTarget();
  const dir = await Deno.makeTempDir();
  try {
    const f = await fixture(target, dir);
    const cli = async (args: string[], stdin?: Uint8Array) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(args, {
        context: {
          print: (text) => (out.push(...text.split("\n")), 0),
          printError: (text) => void err.push(...text.split("\n")),
          printVersion: () => 0,
          signal: new AbortController().signal,
          stdin: stdin && ReadableStream.from([stdin]),
        },
      });
      return { code, out, err };
    };
    const connection = ["-c", `${target.host}:${target.port}`];
    if (target.password !== "") {
      await Deno.writeTextFile(`${dir}/password`, target.password);
      connection.push("--password-file", `${dir}/password`);
    }
    const users = f.tables[0].changes.length;
    for (const source of [[f.file], ["-"]]) {
      const dry = await cli(
        ["restore", ...source, ...connection, "--dry-run", "--rename", `${f.db}.users=${f.db}.u2`],
        source[0] === "-" ? f.tar : undefined,
      );
      assert.equal(dry.code, 0, [...dry.err, ...dry.out].join("\n"));
      assert.deepEqual(dry.out, [
        `${f.db}.empty: would create; 0 documents, then 1 changes to replay; primary key id; indexes: none; write hook: no`,
        `${f.db}.quiet: would create; 5 documents, then 0 changes to replay; primary key id; indexes: none; write hook: no`,
        `${f.db}.users -> ${f.db}.u2: would create; 300 documents, then ${users} changes to replay; primary key id; indexes: none; write hook: no`,
        `dry run: the restore would write 3 tables and replay ${
          users + 1
        } changes, bringing them to the cut ${CUT}`,
      ]);
    }
    const run = await cli(["restore", f.file, ...connection]);
    assert.equal(run.code, 0, run.err.join("\n"));
    assert.match(
      run.err.at(-1)!,
      new RegExp(
        `^Restored 305 documents into 3 tables, 0 secondary indexes and 0 write hooks in [\\d.]+s; ${
          users + 1
        } changes replayed, up to the cut ${CUT.replaceAll(".", "\\.")}$`,
      ),
    );
  } finally {
    await target.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("replay: through a proxy that cuts the connection twice mid-replay, the table ends as at the cut", async () => {
  const target = await testTarget();
  const dir = await Deno.makeTempDir();
  try {
    const db = target.uniqueDb("pit_proxy");
    // Few documents, many changes in small batches: the replay is most of the traffic.
    const start = docs(50);
    const changes: TestChange[] = [];
    for (let i = 0; i < 1500; i++) {
      const key = (i * 37) % 90;
      changes.push(i % 5 === 4 ? { key, new_val: null } : { key, new_val: { id: key, i } });
    }
    const file = `${dir}/proxy.tar.gz`;
    await Deno.writeFile(file, rawTarGz(captureEntries({ db, table: "t", docs: start, changes })));
    const proxy = await startCuttingProxy({
      target: { host: target.host, port: target.port },
      cuts: [{ connection: 1, afterBytes: 60_000 }, { connection: 2, afterBytes: 60_000 }],
    });
    const warnings: string[] = [];
    const copy = target.uniqueDb("pit_proxy_copy");
    try {
      const summary = await restore(
        options(target, {
          connect: { host: proxy.host, port: proxy.port, password: target.password },
          archive: file,
          renames: [`${db}=${copy}`],
          clients: 1,
          batchSize: 5,
          retryDelayMs: 20,
          progress: { write: (text) => warnings.push(text), intervalMs: 60_000 },
        }),
      );
      assert.equal(summary.changes, changes.length);
    } finally {
      await proxy.close();
    }
    assert.deepEqual(proxy.cut, [1, 2]);
    const cuts = warnings.filter((w) => /\(replaying its changes\): .*reconnecting in/.test(w));
    assert.equal(cuts.length, 2, warnings.join(""));
    assert.deepEqual(await contents(target, copy, "t"), applyChanges(start, changes));
  } finally {
    await target.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

/** A replay write: a delete, or an insert replacing (the data's first inserts refuse conflicts). */
function isReplayWrite(query: QueryInfo): boolean {
  if (query.termType === DELETE) return true;
  const optargs = (query.term as unknown[])[2] as Record<string, unknown> | undefined;
  return query.termType === INSERT && optargs?.conflict === "replace";
}

Deno.test({
  name:
    "replay: connections dropped during the replay are ridden out; the table ends as at the cut",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    await withTarget(async (target, dir) => {
      const f = await fixture(target, dir);
      const server = target.server!;
      for (const how of ["file", "stdin"]) {
        let writes = 0;
        server.faults.delayResponses(30, (query) => {
          if (!isReplayWrite(query)) return false;
          writes++;
          if ([2, 5, 9].includes(writes)) {
            setTimeout(() => server.dropConnections(), 5);
            return true;
          }
          return false;
        });
        const warnings: string[] = [];
        const copy = target.uniqueDb("pit_cut");
        const summary = await restore(
          options(target, {
            ...(how === "file" ? { archive: f.file } : { input: ReadableStream.from([f.tar]) }),
            renames: [`${f.db}=${copy}`],
            batchSize: 10,
            clients: 2,
            progress: { write: (text) => warnings.push(text), intervalMs: 60_000 },
          }),
        );
        server.faults.reset();
        assert.ok(writes >= 9, `${how}: ${writes} replay writes`);
        assert.ok(
          warnings.some((w) => /\(replaying its changes\): .*reconnecting/.test(w)),
          warnings.join(""),
        );
        assert.equal(summary.changes, total(f), how);
        for (const t of f.tables) {
          assert.deepEqual(
            await contents(target, copy, t.name),
            applyChanges(t.docs, t.changes),
            `${how}: ${t.name}`,
          );
        }
      }
    });
  },
});

Deno.test({
  name:
    "replay: a restart that loses soft writes mid-replay: what was not durable is sent again, in order",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    await withTarget(async (target, dir) => {
      const f = await fixture(target, dir);
      const server = target.server!;
      let writes = 0;
      let restarted: Promise<void> | undefined;
      server.faults.delayResponses(30, (query) => {
        if (!isReplayWrite(query) || ++writes !== 12) return false;
        setTimeout(() => restarted = server.faults.restart({ unavailableMs: 150 }), 5);
        return true;
      });
      const copy = target.uniqueDb("pit_restart");
      const summary = await restore(
        options(target, { archive: f.file, renames: [`${f.db}=${copy}`], batchSize: 5 }),
      );
      await restarted;
      assert.ok(server.faults.lastRestartLost > 0, "the restart undid replayed changes");
      assert.equal(summary.changes, total(f));
      for (const t of f.tables) {
        assert.deepEqual(
          await contents(target, copy, t.name),
          applyChanges(t.docs, t.changes),
          t.name,
        );
      }
    });
  },
});

Deno.test({
  name:
    "replay: a change the server refuses stops the restore with one line and removes what it created",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    await withTarget(async (target, dir) => {
      const f = await fixture(target, dir);
      target.server!.faults.failQuery(DELETE, "Permission error: no delete for you.");
      const error = await restore(options(target, { archive: f.file })).catch((e) => e);
      assert.ok(error instanceof BackupError, String(error));
      assert.match(
        error.message,
        new RegExp(`^restoring ${f.db}\\.users: Permission error: no delete for you\\.$`),
      );
      const stopped = (error as unknown as { summary: string }).summary;
      assert.match(
        stopped,
        /^restore stopped: 300 documents written; (\d+ changes replayed; )?incomplete tables: /,
      );
      assert.match(stopped, new RegExp(`removed what this run created: .*database ${f.db}$`));
      const conn = await target.connect();
      assert.ok(!(await r.dbList().run(conn)).includes(f.db));
    });
  },
});
