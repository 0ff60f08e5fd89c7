/**
 * `dump()` end to end against the test server (or a real one via RETHINKDB_TEST_SERVER): the
 * archive matches the official one, options, resume after a dropped connection, and cleanup
 * after failures and aborts.
 */
import assert from "node:assert/strict";
import { readArchive } from "../src/archive/mod.ts";
import { dump } from "../src/dump/run.ts";
import type { DumpOptions } from "../src/dump/options.ts";
import { BackupError, InterruptedError } from "../src/errors.ts";
import { readOfficialArchive, seedOfficialData } from "./support/seed.ts";
import { faultsSkipReason, type TestTarget, testTarget, withTarget } from "./support/target.ts";

function options(target: TestTarget, extra: Partial<DumpOptions>): DumpOptions {
  return {
    connect: { host: target.host, port: target.port, password: target.password },
    progress: { quiet: true },
    ...extra,
  };
}

/** Entries of an archive: path (without top dir) → text, in archive order. */
async function entries(path: string): Promise<[string, string][]> {
  const file = await Deno.open(path);
  const out: [string, string][] = [];
  for await (const entry of readArchive(file.readable)) {
    out.push([entry.path.replace(/^[^/]+\//, ""), await new Response(entry.body).text()]);
  }
  return out;
}

/** The archive's `league.events` holds its 5000 documents once each, in primary-key order. */
async function assertEveryEventOnce(file: string): Promise<void> {
  const text = (await entries(file)).find(([p]) => p.endsWith("events.json"))![1];
  const ids = (JSON.parse(text) as { id: string }[]).map((d) => d.id);
  assert.equal(ids.length, 5000);
  assert.equal(new Set(ids).size, 5000, "no duplicates across the resume");
  assert.deepEqual(ids, [...ids].sort(), "still in primary-key order");
}

function byKey(docs: Record<string, unknown>[], key: string) {
  return [...docs].sort((a, b) => JSON.stringify(a[key]) < JSON.stringify(b[key]) ? -1 : 1);
}

Deno.test("dump: the seeded data gives the official archive's entries, .info keys and documents", async () => {
  const target = await testTarget();
  const dir = await Deno.makeTempDir();
  try {
    const prefix = `${target.uniqueDb("dp")}_`;
    await seedOfficialData(target, { dbPrefix: prefix });
    const file = `${dir}/out.tar.gz`;
    const summary = await dump(options(target, {
      file,
      exports: [`${prefix}league`, `${prefix}other`],
      clients: 2,
      tempDir: dir,
    }));
    const official = await readOfficialArchive();
    assert.equal(summary.tables, official.length);
    assert.equal(summary.documents, official.reduce((n, t) => n + t.docs.length, 0));
    assert.equal(summary.indexes, 5, "each secondary index counted once");
    assert.equal(summary.writeHooks, 2);
    const got = await entries(file);
    const names = got.map(([p]) => p);
    const want = official.flatMap((
      t,
    ) => [`${prefix}${t.db}/${t.name}.info`, `${prefix}${t.db}/${t.name}.json`]);
    assert.deepEqual([...names].sort(), [...want].sort());
    for (const table of official) {
      const base = `${prefix}${table.db}/${table.name}`;
      assert.ok(
        names.indexOf(`${base}.info`) < names.indexOf(`${base}.json`),
        `${base}: .info first`,
      );
      const info = JSON.parse(got.find(([p]) => p === `${base}.info`)![1]);
      // The official keys, plus our one record key (ignored by the official restore).
      assert.deepEqual(
        Object.keys(info).sort(),
        [...Object.keys(table.info), "rethinkdb_backup"].sort(),
        `${base}: .info keys`,
      );
      assert.equal(info.primary_key, table.info.primary_key);
      assert.deepEqual(
        info.indexes.map((
          i: { index: string; function: { data: string } },
        ) => [i.index, i.function.data.replace(/\s/g, "")]),
        table.info.indexes.map((i) => [i.index, i.function.data.replace(/\s/g, "")]),
      );
      assert.equal(
        info.write_hook?.function.data.replace(/\s/g, ""),
        table.info.write_hook?.function.data.replace(/\s/g, ""),
      );
      const text = got.find(([p]) => p === `${base}.json`)![1];
      assert.ok(text.startsWith("[") && text.endsWith("\n]\n"), `${base}: official framing`);
      assert.deepEqual(
        byKey(JSON.parse(text), table.info.primary_key),
        byKey(table.docs as Record<string, unknown>[], table.info.primary_key),
        `${base}: documents equal as values`,
      );
    }
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name),
      ["out.tar.gz"],
      "no spool left",
    );
  } finally {
    await target.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dump: -e selections and their errors, reported before anything is written", async () => {
  const target = await testTarget();
  const dir = await Deno.makeTempDir();
  try {
    const prefix = `${target.uniqueDb("de")}_`;
    await seedOfficialData(target, {
      dbPrefix: prefix,
      only: ["league.users", "league.empty", "other.hooks_only"],
    });
    const file = `${dir}/a.tar.gz`;
    const summary = await dump(options(target, {
      file,
      exports: [`${prefix}league.users`, `${prefix}other`, `${prefix}league.users`],
      readOutdated: true,
      clients: 1,
    }));
    assert.equal(summary.tables, 2);
    assert.deepEqual((await entries(file)).map(([p]) => p).sort(), [
      `${prefix}league/users.info`,
      `${prefix}league/users.json`,
      `${prefix}other/hooks_only.info`,
      `${prefix}other/hooks_only.json`,
    ]);
    const cases: [string[], RegExp][] = [
      [["rethinkdb"], /rethinkdb/],
      [[`${prefix}nope`], new RegExp(`${prefix}nope`)],
      [[`${prefix}league.nope`], new RegExp(`${prefix}league\\.nope`)],
    ];
    for (const [exports, pattern] of cases) {
      await assert.rejects(
        () => dump(options(target, { file: `${dir}/b.tar.gz`, exports })),
        (e: unknown) => {
          assert.ok(e instanceof BackupError, String(e));
          assert.match(e.message, pattern);
          assert.ok(!e.message.includes("\n"));
          return true;
        },
      );
    }
    await assert.rejects(
      () => dump(options(target, { file, exports: [`${prefix}other`] })),
      /already exists/,
    );
    const again = await dump(
      options(target, { file, overwrite: true, exports: [`${prefix}other`] }),
    );
    assert.equal(again.tables, 1);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["a.tar.gz"]);
  } finally {
    await target.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "dump: resumes after dropped connections with every document exactly once",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    await withTarget(async (target, dir) => {
      const { dbs } = await seedOfficialData(target, { only: ["league.events"] });
      target.server!.faults.closeAfterDocuments(1234);
      const file = `${dir}/r.tar.gz`;
      const summary = await dump(options(target, { file, exports: dbs, retryDelayMs: 10 }));
      assert.equal(summary.documents, 5000);
      await assertEveryEventOnce(file);
    });
  },
});

Deno.test({
  name: "dump: a connection cut in the middle of a frame resumes with every document exactly once",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    await withTarget(async (target, dir) => {
      const { dbs } = await seedOfficialData(target, { only: ["league.events"] });
      // The response frame that crosses 300 KB is cut after its first bytes, mid-frame.
      target.server!.faults.closeAfterBytes(300_000);
      const file = `${dir}/m.tar.gz`;
      const lines: string[] = [];
      const summary = await dump(options(target, {
        file,
        exports: dbs,
        retryDelayMs: 10,
        progress: { write: (text) => lines.push(text), intervalMs: 60_000 },
      }));
      assert.equal(summary.documents, 5000);
      assert.ok(lines.some((l) => /reconnecting in/.test(l)), "the cut happened and was retried");
      await assertEveryEventOnce(file);
    });
  },
});

Deno.test({
  name: "dump: a failure or an abort leaves no archive and no temp files",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    await withTarget(async (target, dir) => {
      const { dbs } = await seedOfficialData(target, { only: ["league.events", "league.users"] });
      target.server!.faults.failQuery(
        (q) => q.termType === 41,
        "Cannot read from table: disk on fire.",
        100,
      );
      await assert.rejects(
        () =>
          dump(
            options(target, {
              file: `${dir}/f.tar.gz`,
              exports: dbs,
              retryForMs: 100,
              retryDelayMs: 1,
            }),
          ),
        /disk on fire/,
      );
      assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing after a failure");
      target.server!.faults.reset();

      target.server!.faults.delayResponses(200);
      const controller = new AbortController();
      setTimeout(() => controller.abort(new InterruptedError("SIGINT")), 300);
      await assert.rejects(
        () =>
          dump(
            options(target, { file: `${dir}/i.tar.gz`, exports: dbs, signal: controller.signal }),
          ),
        InterruptedError,
      );
      assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing after an abort");
    });
  },
});
