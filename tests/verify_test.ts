/**
 * `verify`: archives built with the real writer and `encodeInfo`'s record, then damaged in the
 * ways that matter (a flipped byte with valid gzip, truncation, invalid JSON, missing primary
 * keys, missing entries), plus the official archives, which must verify clean.
 */
import assert from "node:assert/strict";
import { allProblems, inspectArchive } from "../src/inspect/catalog.ts";
import { verifyReport } from "../src/inspect/verify.ts";
import { verifyArchive } from "../src/cli/verify_command.ts";
import {
  buildArchive,
  flipInside,
  gunzip,
  gzip,
  streamOf,
  type TestTable,
} from "./support/inspect_archive.ts";
import { specDir } from "./support/shared.ts";

const OFFICIAL = new URL("official-dumps/", specDir());

function users(n: number): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({ uid: i, name: `user ${i}`, score: 1000 + i }));
}

const TABLES: TestTable[] = [
  { db: "league", table: "users", primaryKey: "uid", docs: users(300) },
  { db: "league", table: "empty", docs: [] },
  { db: "other", table: "things", docs: [{ id: "a", v: [1, 2] }, { id: "b", v: null }] },
];

async function verifyBytes(bytes: Uint8Array) {
  return verifyReport(await inspectArchive(streamOf(bytes, 1000)));
}

Deno.test("verify: an archive with records verifies clean, gzip or plain tar", async () => {
  const bytes = await buildArchive(TABLES);
  for (const archive of [bytes, await gunzip(bytes)]) {
    const catalog = await inspectArchive(streamOf(archive, 777));
    assert.deepEqual(allProblems(catalog), []);
    assert.equal(catalog.date, "2026-11-24T10:11:12");
    const table = catalog.tables.get("league.users")!;
    assert.equal(table.observed?.documents, 300);
    assert.equal(table.observed?.sha256, table.metadata?.backup?.json_sha256);
    const report = verifyReport(catalog);
    assert.equal(report.ok, true);
    assert.match(report.summary, /^OK: 3 tables, 302 documents; every count and SHA-256 matches/);
  }
});

Deno.test("verify: a flipped byte inside a .json (gzip still valid) names that table", async () => {
  const good = await gunzip(await buildArchive(TABLES));
  // "user 17" becomes "user 18": still valid JSON, same size; only the SHA-256 can tell.
  const bad = await gzip(flipInside(good, '"user 17"'.slice(0, -1)));
  const report = await verifyBytes(bad);
  assert.equal(report.ok, false);
  assert.equal(report.problems.length, 1);
  assert.match(report.problems[0], /^league\.users: .*users\.json does not match the SHA-256/);
  assert.match(report.summary, /^FAILED: 1 problem in 1 of 3 tables/);
});

Deno.test("verify: a flipped byte that breaks the JSON is reported with its offset", async () => {
  const tables: TestTable[] = [{
    db: "db",
    table: "t",
    docs: users(5).map((d) => ({ id: d.uid, name: d.name })),
    tamper: (json) => flipInside(json, '"id":3', -10), // `"id":3` becomes `"id":)`
  }];
  const report = await verifyBytes(await buildArchive(tables));
  assert.equal(report.ok, false);
  assert.ok(
    report.problems.some((p) =>
      /^rethinkdb_dump_.*\/db\/t\.json: invalid JSON at byte \d+/.test(p)
    ),
  );
  assert.ok(report.problems.some((p) => /^db\.t: .* does not match the SHA-256/.test(p)));
});

Deno.test("verify: a truncated archive fails, naming what it could not read", async () => {
  const bytes = await buildArchive(TABLES);
  for (const cut of [bytes.length - 20, Math.floor(bytes.length / 2)]) {
    const report = await verifyBytes(bytes.subarray(0, cut));
    assert.equal(report.ok, false);
    assert.ok(report.problems.some((p) => /^archive is truncated/.test(p)), report.problems.join());
    assert.match(report.summary, /could not be read to its end/);
  }
  const tar = await gunzip(bytes);
  const report = await verifyBytes(tar.subarray(0, tar.length - 2048));
  assert.equal(report.ok, false);
  assert.ok(report.problems.some((p) => /^archive is truncated/.test(p)));
});

Deno.test("verify: counts, sizes and primary keys are checked against the .info", async () => {
  const docs = [{ id: 1 }, { id: 2 }, { other: 3 }, { id: 4 }];
  const report = await verifyBytes(
    await buildArchive([
      // The record counts 4 documents; one more is appended (SHA-256 and size differ too).
      {
        db: "db",
        table: "extra",
        docs: [{ id: 1 }],
        tamper: () => new TextEncoder().encode('[\n{"id":1},\n{"id":2}\n]\n'),
      },
      { db: "db", table: "nokey", docs },
      { db: "db", table: "nokey_first", docs, jsonFirst: true, record: false },
      { db: "db", table: "noinfo", docs: [{ id: 1 }], omit: "info" },
      { db: "db", table: "nojson", docs: [{ id: 1 }], omit: "json" },
    ]),
  );
  const problems = report.problems.join("\n");
  assert.match(problems, /^db\.extra: 2 documents in .*extra\.json, the \.info recorded 1$/m);
  assert.match(problems, /^db\.extra: .*extra\.json is 23 bytes, the \.info recorded 13$/m);
  assert.match(problems, /nokey\.json: document 3 has no primary key "id"$/m);
  assert.match(problems, /nokey_first\.json: document 3 has no primary key "id"$/m);
  assert.match(problems, /^db\.noinfo: .*noinfo\.json has no \.info entry/m);
  assert.match(problems, /^db\.nojson: .*nojson\.info has no \.json entry .*incomplete$/m);
  assert.match(report.summary, /^FAILED: \d+ problems in 5 of 5 tables/);
});

Deno.test("verify: a table stored twice is named, and the rest is still checked", async () => {
  const tables: TestTable[] = [{ db: "db", table: "t", docs: [{ id: 1 }] }];
  const report = await verifyBytes(await buildArchive([...tables, ...tables]));
  assert.equal(report.ok, false);
  assert.match(report.problems.join("\n"), /table db\.t's \.info is in the archive twice/);
  assert.match(report.problems.join("\n"), /table db\.t's \.json is in the archive twice/);
  assert.equal(report.problems.length, 2);
});

Deno.test("verify: a malformed rethinkdb_backup value is a problem naming the entry", async () => {
  const tables: TestTable[] = [{ db: "db", table: "t", docs: [{ id: 1 }] }];
  const tar = await gunzip(await buildArchive(tables));
  // Same length, so the tar stays valid: the SHA-256 loses its last hex digit to a "G".
  const text = new TextDecoder().decode(tar);
  const at = text.indexOf('"json_sha256":"') + '"json_sha256":"'.length + 63;
  tar[at] = "G".charCodeAt(0);
  const report = await verifyBytes(tar);
  assert.equal(report.ok, false);
  assert.match(
    report.problems.join("\n"),
    /t\.info: "rethinkdb_backup"\.json_sha256 is missing or not 64 lowercase hex digits/,
  );
});

Deno.test("verify: both official archives verify clean", async () => {
  for (const name of ["full.tar.gz", "league-users.tar.gz"]) {
    const report = await verifyArchive(new URL(name, OFFICIAL).pathname);
    assert.deepEqual(report.problems, [], name);
    assert.equal(report.ok, true);
    assert.match(report.summary, /no \.info records counts or checksums/);
  }
});

Deno.test("verify: official archive with a changed document fails on its primary key", async () => {
  const tar = await gunzip(await Deno.readFile(new URL("league-users.tar.gz", OFFICIAL)));
  // `"uid": ` → `"uiD": ` in the first document holding it: still valid JSON.
  const bad = flipInside(tar, '"uid"'.slice(0, -1), -32);
  const report = await verifyBytes(bad);
  assert.equal(report.ok, false);
  assert.match(report.problems.join("\n"), /users\.json: document \d+ has no primary key "uid"/);
});

Deno.test("verify: a .json stored before its .info is still checked against the record", async () => {
  const docs = users(20).map((d) => ({ id: d.uid, name: d.name }));
  const clean = await verifyBytes(
    await buildArchive([{ db: "db", table: "t", docs, jsonFirst: true }]),
  );
  assert.equal(clean.ok, true, clean.problems.join("\n"));
  const report = await verifyBytes(
    await buildArchive([{
      db: "db",
      table: "t",
      docs,
      jsonFirst: true,
      tamper: (json) => flipInside(json, '"user 1'),
    }]),
  );
  assert.deepEqual(report.problems.map((p) => p.replace(/: .*/, "")), ["db.t"]);
  assert.match(report.problems[0], /does not match the SHA-256/);
});
