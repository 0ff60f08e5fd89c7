/**
 * `restore()` end to end against the test server (or a real one via RETHINKDB_TEST_SERVER):
 * the official archives, stdin, -i, --force, hooks, rejections and an injected failure.
 */
import assert from "node:assert/strict";
import { r } from "npm:rethinkdb-ts@3.0.0";
import { ArchiveWriter } from "../src/archive/mod.ts";
import { BackupError } from "../src/errors.ts";
import { restore, type RestoreInput } from "../src/restore/run.ts";
import type { RestoreOptions, RestoreSummary } from "../src/restore/options.ts";
import { readOfficialArchive, seedOfficialData } from "./support/seed.ts";
import { specDir } from "./support/shared.ts";
import { faultsSkipReason, type TestTarget, testTarget } from "./support/target.ts";
import { containsTerm } from "./server/faults.ts";
import { TermType } from "./server/reql/proto.ts";

const FULL = new URL("official-dumps/full.tar.gz", specDir()).pathname;
const USERS = new URL("official-dumps/league-users.tar.gz", specDir()).pathname;
const expected = JSON.parse(
  await Deno.readTextFile(new URL("official-dumps/expected.json", specDir())),
);

function options(
  target: TestTarget,
  extra: Partial<RestoreOptions & RestoreInput>,
): RestoreOptions & RestoreInput {
  return {
    connect: { host: target.host, port: target.port, password: target.password },
    archive: FULL,
    progress: { quiet: true },
    ...extra,
  };
}

/** The official archive uses fixed database names; on a real server they must be free. */
async function claimOfficialNames(target: TestTarget): Promise<void> {
  const conn = await target.connect();
  const existing = await r.dbList().run(conn);
  for (const db of ["league", "other"]) {
    if (existing.includes(db)) {
      throw new Error(`database ${db} already exists on the test server; refusing to touch it`);
    }
    target.track(db);
  }
}

function sortByKey(docs: Record<string, unknown>[], key: string) {
  return [...docs].sort((a, b) => JSON.stringify(a[key]) < JSON.stringify(b[key]) ? -1 : 1);
}

Deno.test("restore: each official archive gives exactly what expected.json lists", async () => {
  for (const [archive, path] of [["full.tar.gz", FULL], ["league-users.tar.gz", USERS]]) {
    const target = await testTarget();
    try {
      await claimOfficialNames(target);
      const summary = await restore(options(target, { archive: path }));
      const tables = expected[archive].tables as Record<string, {
        documents: number;
        primary_key: string;
        indexes: { index: string; multi: boolean; geo: boolean }[];
        write_hook: boolean;
      }>;
      const names = Object.keys(tables);
      assert.equal(summary.tables, names.length);
      assert.deepEqual(summary.incompleteTables, []);
      const official = await readOfficialArchive();
      const conn = await target.connect();
      for (const name of names) {
        const [db, table] = name.split(".");
        const want = tables[name];
        const info = await r.db(db).table(table).info().run(conn);
        assert.equal(info.primary_key, want.primary_key, name);
        const docs = await r.db(db).table(table).run(conn, {
          timeFormat: "raw",
          binaryFormat: "raw",
        });
        assert.equal(docs.length, want.documents, name);
        const source = official.find((t) => `${t.db}.${t.name}` === name)!;
        assert.deepEqual(
          sortByKey(docs, want.primary_key),
          sortByKey(source.docs as Record<string, unknown>[], want.primary_key),
          `${name}: documents equal as values`,
        );
        const indexes = await r.db(db).table(table).indexStatus().run(conn, {
          binaryFormat: "raw",
        });
        assert.deepEqual(
          indexes.map((i: { index: string; multi: boolean; geo: boolean }) => ({
            index: i.index,
            multi: i.multi,
            geo: i.geo,
          })),
          want.indexes,
          name,
        );
        const hook = await r.db(db).table(table).getWriteHook().run(conn, { binaryFormat: "raw" });
        assert.equal(hook !== null, want.write_hook, `${name}: write hook`);
      }
      assert.equal(summary.documents, names.reduce((n, k) => n + tables[k].documents, 0));
      assert.equal(summary.writeHooks, names.filter((k) => tables[k].write_hook).length);
    } finally {
      await target.cleanup();
    }
  }
});

Deno.test("restore: write hooks are set but never applied to restored documents", async () => {
  const target = await testTarget();
  try {
    await claimOfficialNames(target);
    await restore(options(target, { archive: USERS }));
    const conn = await target.connect();
    const users = await r.db("league").table("users").run(conn);
    assert.ok(users.every((u: Record<string, unknown>) => !("touched" in u)), "hook not applied");
    // The hook is live: a normal insert now gets it.
    await r.db("league").table("users").insert({ uid: 100000 }).run(conn);
    const fresh = await r.db("league").table("users").get(100000).run(conn);
    assert.ok(fresh && "touched" in fresh, "the restored hook applies to new writes");
  } finally {
    await target.cleanup();
  }
});

Deno.test("restore: from stdin, with -i filtering; a -i name not in the archive is an error", async () => {
  const target = await testTarget();
  try {
    await claimOfficialNames(target);
    const file = await Deno.open(FULL);
    const summary = await restore(
      options(
        target,
        { archive: "-", input: file.readable, imports: ["other", "league.empty"] } as never,
      ),
    );
    assert.equal(summary.tables, 4);
    const conn = await target.connect();
    assert.deepEqual((await r.db("league").tableList().run(conn)).sort(), ["empty"]);
    assert.deepEqual((await r.db("other").tableList().run(conn)).sort(), [
      "hooks_only",
      "large_docs",
      "weird-name_1",
    ]);
    await assert.rejects(
      () => restore(options(target, { imports: ["nope.t"] })),
      /-i nope\.t: not in the archive \(it holds league\.empty, /,
    );
  } finally {
    await target.cleanup();
  }
});

Deno.test("restore: existing tables stop it before anything is written; --force replaces", async () => {
  const target = await testTarget();
  try {
    await claimOfficialNames(target);
    const conn = await target.connect();
    await r.dbCreate("league").run(conn);
    await r.db("league").tableCreate("users", { primaryKey: "uid" }).run(conn);
    await r.db("league").table("users").insert({ uid: 0, stale: true }).run(conn);
    await assert.rejects(
      () => restore(options(target, {})),
      /table league\.users already exists; nothing was written\. Use --force/,
    );
    assert.deepEqual(await r.dbList().run(conn).then((l) => l.includes("other")), false);
    assert.deepEqual(await r.db("league").tableList().run(conn), ["users"]);
    assert.equal(await r.db("league").table("users").count().run(conn), 1);

    const summary = await restore(options(target, { archive: USERS, force: true }));
    assert.equal(summary.documents, 1000);
    const zero = await r.db("league").table("users").get(0).run(conn);
    assert.ok(zero && !("stale" in zero), "the archive's document replaced the existing one");

    await r.db("league").tableDrop("users").run(conn);
    await r.db("league").tableCreate("users", { primaryKey: "id" }).run(conn);
    await assert.rejects(
      () => restore(options(target, { archive: USERS, force: true })),
      /table league\.users exists with primary key `id` but the archive's is `uid`/,
    );
  } finally {
    await target.cleanup();
  }
});

/** Builds a .tar.gz from path → content. */
async function archiveOf(entries: [string, string | Uint8Array][]): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".tar.gz" });
  const file = await Deno.open(path, { write: true, truncate: true });
  const writer = ArchiveWriter.create(file.writable);
  for (const [name, content] of entries) {
    const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
    await writer.addEntry(name, bytes.length, bytes);
  }
  await writer.finish();
  return path;
}

const INFO = (name: string) =>
  JSON.stringify({ name, primary_key: "id", indexes: [], write_hook: null, type: "TABLE" }) + "\n";

Deno.test("restore: malformed archives are rejected with a clear message, nothing written", async () => {
  const target = await testTarget();
  const db = target.uniqueDb("rj");
  const top = "rethinkdb_dump_2026-01-01T00:00:00";
  const cases: [string, [string, string | Uint8Array][], RegExp][] = [
    ["absolute path", [[`/${top}/${db}/t.json`, "[]"]], /absolute|\.\./],
    ["dot-dot", [[`${top}/../${db}/t.json`, "[]"]], /\.\./],
    ["structure", [[`${top}/${db}/x/t.json`, "[]"]], /structure|expected|<top>/],
    [
      "two tops",
      [[`${top}/${db}/a.info`, INFO("a")], [`other_top/${db}/b.info`, INFO("b")]],
      /top/,
    ],
    ["twice", [[`${top}/${db}/a.info`, INFO("a")], [`${top}/${db}/a.info`, INFO("a")]], /twice/],
    ["csv", [[`${top}/${db}/a.csv`, "id\n1\n"]], /CSV/],
  ];
  try {
    for (const [label, entries, pattern] of cases) {
      const path = await archiveOf(entries);
      try {
        await assert.rejects(() => restore(options(target, { archive: path })), (e: unknown) => {
          assert.ok(e instanceof BackupError, `${label}: ${e}`);
          assert.match(e.message, pattern, `${label}: ${e.message}`);
          assert.ok(!e.message.includes("\n"), label);
          return true;
        });
      } finally {
        await Deno.remove(path);
      }
    }
    const conn = await target.connect();
    assert.ok(!(await r.dbList().run(conn)).includes(db), "nothing was created");

    // Invalid JSON in a file archive is found by the pre-scan: nothing is written.
    const bad = await archiveOf([
      [`${top}/${db}/a.info`, INFO("a")],
      [`${top}/${db}/a.json`, '[\n{"id": 1},\n{"id": tru}\n]\n'],
    ]);
    const refused = await restore(options(target, { archive: bad })).catch((e) => e);
    assert.ok(refused instanceof BackupError);
    assert.match(
      refused.message,
      /damaged table: rj_[0-9a-f]+\.a; rethinkdb_dump_[^/]+\/rj_[0-9a-f]+\/a\.json: invalid JSON at byte 23: unexpected '}'.*nothing was written/,
    );
    assert.ok(!(await r.dbList().run(conn)).includes(db), "nothing was created");
    // From stdin it can only be found while streaming: named with its byte offset, the table
    // reported as written in part.
    const error = await restore(options(target, {
      archive: "-",
      input: (await Deno.open(bad)).readable,
    })).catch((e) => e);
    await Deno.remove(bad);
    assert.ok(error instanceof BackupError);
    assert.match(
      error.message,
      /^rethinkdb_dump_[^/]+\/rj_[0-9a-f]+\/a\.json: invalid JSON at byte 23: unexpected '}'/,
    );
    const stopped = (error as unknown as {
      restoreSummary: { incompleteTables: string[]; notStarted: string[] };
    }).restoreSummary;
    assert.deepEqual([...stopped.incompleteTables, ...stopped.notStarted], [`${db}.a`]);

    // Truncated gzip.
    const whole = await Deno.readFile(USERS);
    const cut = await Deno.makeTempFile();
    await Deno.writeFile(cut, whole.subarray(0, whole.length >> 1));
    await assert.rejects(() => restore(options(target, { archive: cut })), /archive is truncated/);
    await Deno.remove(cut);
    await assert.rejects(
      () => restore(options(target, { archive: "/nonexistent.tar.gz" })),
      /archive \/nonexistent\.tar\.gz: no such file/,
    );
  } finally {
    await target.cleanup();
  }
});

Deno.test("restore: a .json before its .info waits for it; other files are skipped with a warning", async () => {
  const target = await testTarget();
  const db = target.uniqueDb("rw");
  const top = "rethinkdb_dump_2026-01-01T00:00:00";
  const path = await archiveOf([
    [`${top}/${db}/kept.json`, '[\n{"id":1},\n{"id":2}\n]\n'],
    [`${top}/${db}/kept.info`, INFO("kept")],
    [`${top}/README.txt`, "not a table"],
  ]);
  try {
    for (const fromStdin of [false, true]) {
      const warnings: string[] = [];
      const summary = await restore(
        options(target, {
          archive: fromStdin ? "-" : path,
          input: fromStdin ? (await Deno.open(path)).readable : undefined,
          force: fromStdin,
          progress: { write: (t) => warnings.push(t), intervalMs: 60_000 },
        }),
      );
      assert.equal(summary.tables, 1);
      assert.equal(summary.documents, 2, "kept.json arrived before its .info and was spooled");
      assert.ok(warnings.some((w) => /skipping unexpected file .*README\.txt/.test(w)));
      const conn = await target.connect();
      assert.deepEqual(await r.db(db).tableList().run(conn), ["kept"]);
    }
  } finally {
    await Deno.remove(path);
    await target.cleanup();
  }
});

Deno.test({
  name:
    "restore: an injected failure mid-restore is reported; nothing claimed complete that is not",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    const target = await testTarget();
    try {
      let inserts = 0;
      // An error no wait cures (an unavailable table would be waited for).
      target.server!.faults.failQuery(
        (q) => q.termType === 56 && ++inserts === 3,
        "User `admin` does not have the appropriate permissions.",
      );
      const error = await restore(options(target, { clients: 2, batchSize: 500 })).then(
        () => undefined,
        (e) => e,
      );
      assert.ok(error instanceof BackupError, String(error));
      assert.match(
        error.message,
        /^restoring [a-z_-]+\.[a-z_1-]+: .*does not have the appropriate permissions/,
      );
      const summary = (error as unknown as { restoreSummary: RestoreSummary }).restoreSummary;
      assert.ok(summary.incompleteTables.length > 0);
      const failed = error.message.match(/^restoring (\S+):/)![1];
      assert.ok(summary.incompleteTables.includes(failed));
      // Every table is accounted for exactly once: complete, written in part, or not started.
      assert.equal(
        summary.tables + summary.incompleteTables.length + summary.notStarted.length,
        6,
      );
      // Two inserts were acknowledged before the third failed: their documents are counted.
      const acknowledged = Object.values(summary.documentsByTable).reduce((a, b) => a + b, 0);
      assert.equal(summary.documents, acknowledged);
      assert.ok(summary.documents > 0, `${summary.documents} documents counted`);
    } finally {
      target.server?.faults.reset();
      await target.cleanup();
    }
  },
});

Deno.test({
  name: "restore: a table refused because its new database is not seen yet is created again",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    const target = await testTarget();
    try {
      await claimOfficialNames(target);
      // What a real server answers when a connection's thread has not yet seen a database that
      // another connection has just created.
      target.server!.faults.failQuery(
        (q) =>
          containsTerm(q.term, TermType.TABLE_CREATE) &&
          JSON.stringify(q.term).includes('"league"'),
        "Database `league` does not exist.",
        3,
      );
      const summary = await restore(options(target, {}));
      assert.deepEqual(summary.incompleteTables, []);
      const conn = await target.connect();
      const want = Object.keys(expected["full.tar.gz"].tables).filter((n) =>
        n.startsWith("league.")
      );
      const have = (await r.db("league").tableList().run(conn)).map((t: string) => `league.${t}`);
      assert.deepEqual(have.sort(), want.sort());
    } finally {
      target.server?.faults.reset();
      await target.cleanup();
    }
  },
});

Deno.test("round trip: dump then restore gives back the same documents, keys, indexes and hooks", async () => {
  const { dump } = await import("../src/dump/run.ts");
  const target = await testTarget();
  const dir = await Deno.makeTempDir();
  try {
    const prefix = `${target.uniqueDb("rt")}_`;
    await seedOfficialData(target, { dbPrefix: prefix });
    const conn = await target.connect();
    const snapshot = async () => {
      const out: Record<string, unknown> = {};
      for (const db of [`${prefix}league`, `${prefix}other`]) {
        for (const table of (await r.db(db).tableList().run(conn)).sort()) {
          const info = await r.db(db).table(table).info().run(conn);
          const docs = await r.db(db).table(table).run(conn, {
            timeFormat: "raw",
            binaryFormat: "raw",
          });
          const indexes = await r.db(db).table(table).indexStatus().run(conn, {
            binaryFormat: "raw",
          });
          const hook = await r.db(db).table(table).getWriteHook().run(conn, {
            binaryFormat: "raw",
          });
          out[`${db}.${table}`] = {
            primaryKey: info.primary_key,
            docs: sortByKey(docs, info.primary_key as string),
            indexes: indexes.map((i) => ({ ...i, ready: true })),
            hook,
          };
        }
      }
      return out;
    };
    const before = await snapshot();
    const file = `${dir}/rt.tar.gz`;
    await dump({
      connect: { host: target.host, port: target.port, password: target.password },
      file,
      exports: [`${prefix}league`, `${prefix}other`],
      progress: { quiet: true },
    });
    await r.dbDrop(`${prefix}league`).run(conn);
    await r.dbDrop(`${prefix}other`).run(conn);
    const summary = await restore(options(target, { archive: file }));
    assert.equal(summary.tables, 6);
    assert.deepEqual(await snapshot(), before);
  } finally {
    await target.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "restore: an abort (Ctrl-C) stops cleanly and names the incomplete tables",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    const { InterruptedError } = await import("../src/errors.ts");
    const target = await testTarget();
    try {
      const controller = new AbortController();
      // Ctrl-C while the first insert is with the server, however long the pre-scan took.
      target.server!.faults.delayResponses(100, (query) => {
        if (query.termType !== 56) return false;
        queueMicrotask(() => controller.abort(new InterruptedError("SIGINT")));
        return true;
      });
      const error = await restore(
        options(target, { signal: controller.signal, batchSize: 200, clients: 2 }),
      ).catch((e) => e);
      assert.ok(error instanceof InterruptedError, String(error));
      const summary = (error as unknown as { restoreSummary: { incompleteTables: string[] } })
        .restoreSummary;
      assert.ok(summary.incompleteTables.length > 0);
      assert.match((error as unknown as { summary: string }).summary, /incomplete tables: /);
    } finally {
      target.server?.faults.reset();
      await target.cleanup();
    }
  },
});
