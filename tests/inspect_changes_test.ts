/**
 * A point-in-time archive's `.changes`, offline: the line check (`ChangesEntryCheck`), the
 * catalog's rules for the entry, `list` / `list --json` / `verify` of such archives, the replay's
 * batching, the dry run's and the summary's words, and the delete query's term.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { r } from "npm:rethinkdb-ts@3.0.0";
import { ChangeLineError, ChangeLines } from "../src/archive/changes.ts";
import { listArchive } from "../src/cli/list_command.ts";
import { describeRestore } from "../src/cli/restore_command.ts";
import { verifyArchive } from "../src/cli/verify_command.ts";
import * as q from "../src/connection/reql.ts";
import { allProblems, inspectArchive } from "../src/inspect/catalog.ts";
import { ChangesEntryCheck, MAX_CHANGE_LINE_BYTES } from "../src/inspect/changes_check.ts";
import { listText } from "../src/inspect/list.ts";
import { Progress } from "../src/progress/progress.ts";
import { RestoreLedger } from "../src/restore/ledger.ts";
import { formatPlan, planRestore } from "../src/restore/plan.ts";
import { ChangeBatcher } from "../src/restore/replay.ts";
import { decodeInfo } from "../src/archive/table_info.ts";
import {
  CAPTURE_TOP,
  captureEntries,
  type CaptureTable,
  changesBody,
  CUT,
  type Doc,
  type TestChange,
} from "./support/capture_archive.ts";
import { streamOf } from "./support/inspect_archive.ts";
import { type RawEntry, rawTar, rawTarGz } from "./support/raw_tar.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string) => encoder.encode(text);

const docs = (n: number, from = 0): Doc[] =>
  Array.from({ length: n }, (_, i) => ({ id: from + i, name: `user ${from + i}` }));

const CHANGES: TestChange[] = [
  { key: 1, new_val: { id: 1, name: "renamed" } },
  { key: 2, new_val: null },
  { key: 1, new_val: { id: 1, name: "renamed again" } },
  { key: 500, new_val: { id: 500, name: "new" } },
  { key: 777, new_val: null },
];

/** Runs every line through a check fed `chunk` bytes at a time; returns what it saw. */
function check(text: string | Uint8Array, chunk = 7, primaryKey = "id") {
  const body = typeof text === "string" ? bytes(text) : text;
  const checker = new ChangesEntryCheck("top/db/t.changes", primaryKey, { keep: true });
  const kept: string[] = [];
  for (let i = 0; i < body.length; i += chunk) {
    checker.feed(body.subarray(i, i + chunk));
    for (const c of checker.take()) {
      kept.push(`${decoder.decode(c.key)}=${c.newVal ? decoder.decode(c.newVal) : "null"}`);
    }
  }
  const observed = checker.end();
  for (const c of checker.take()) {
    kept.push(`${decoder.decode(c.key)}=${c.newVal ? decoder.decode(c.newVal) : "null"}`);
  }
  return { observed, kept };
}

Deno.test("ChangesEntryCheck: counts, hashes and hands on every change, whatever the chunks", () => {
  const body = changesBody(CHANGES);
  const sha = createHash("sha256").update(body).digest("hex");
  for (const chunk of [1, 3, 64, body.length]) {
    const { observed, kept } = check(body, chunk);
    assert.deepEqual(observed, { changes: 5, bytes: body.length, sha256: sha });
    assert.deepEqual(kept, [
      '1={"id":1,"name":"renamed"}',
      "2=null",
      '1={"id":1,"name":"renamed again"}',
      '500={"id":500,"name":"new"}',
      "777=null",
    ]);
  }
  // Values stay the server's bytes: -0.0, a large integer, escapes, a compound key.
  const raw = '{"key":[1,"a"],"new_val":{"id":[1,"a"],"n":-0.0,"big":12345678901234567890,' +
    '"s":"\\u00e9\\n"}}\n';
  assert.deepEqual(check(raw).kept, [`[1,"a"]=${raw.slice(25, -2)}`]);
  assert.deepEqual(check("").observed.changes, 0);
});

Deno.test("ChangesEntryCheck: each bad line is one problem naming the entry and the line", () => {
  const good = '{"key":1,"new_val":null}\n';
  const cases: [string, string | Uint8Array, RegExp][] = [
    [
      "invalid JSON",
      good + '{"key":2,"new_val":{"id":2,}}\n',
      /^top\/db\/t\.changes: line 2: invalid JSON at byte 52: /,
    ],
    [
      "a raw control character",
      good + '{"key":"a\tb","new_val":null}\n',
      /^top\/db\/t\.changes: line 2: invalid JSON/,
    ],
    [
      "no new_val",
      good + good + '{"key":3}\n',
      /^top\/db\/t\.changes: line 3: not a change: no "new_val"$/,
    ],
    [
      "an unknown member",
      '{"key":1,"new_val":null,"old_val":null}\n',
      /line 1: not a change: an unknown member "old_val"$/,
    ],
    [
      "a new_val that is a number",
      '{"key":1,"new_val":5}\n',
      /line 1: not a change: "new_val" is neither a document nor null$/,
    ],
    ["an array for a line", '[{"key":1,"new_val":null}]\n', /line 1: not a change: /],
    [
      "two changes on a line",
      '{"key":1,"new_val":null} {"key":2,"new_val":null}\n',
      /line 1: not a change: text after/,
    ],
    ["an empty line", good + "\n" + good, /line 2: not a change: /],
    [
      "a null key",
      '{"key":null,"new_val":null}\n',
      /line 1: the key is null, which no primary key is$/,
    ],
    [
      "a document without the primary key",
      '{"key":1,"new_val":{"uid":1}}\n',
      /line 1: the document has no primary key "id"$/,
    ],
    [
      "a document whose key is another",
      good + '{"key":1,"new_val":{"id":2,"name":"x"}}\n',
      /^top\/db\/t\.changes: line 2: the document's primary key "id" is 2, not the change's key 1$/,
    ],
    [
      "a key that differs in its bytes only",
      '{"key":1.0,"new_val":{"id":1}}\n',
      /line 1: the document's primary key "id" is 1, not the change's key 1\.0$/,
    ],
    [
      "no line end at the end",
      good + '{"key":2,"new_val":null}',
      /^top\/db\/t\.changes: line 2: the last line has no line end$/,
    ],
  ];
  for (const [label, text, says] of cases) {
    for (const chunk of [1, 5, 4096]) {
      const { observed } = check(text, chunk);
      assert.match(observed.invalid ?? "(none)", says, `${label}, chunks of ${chunk}`);
      assert.ok(!observed.invalid!.includes("\n"), label);
    }
  }
  // Invalid UTF-8 inside a string.
  const badUtf8 = bytes('{"key":"ab","new_val":null}\n');
  badUtf8[9] = 0xff;
  assert.match(check(badUtf8).observed.invalid!, /line 1: invalid JSON at byte 9: .*UTF-8/);
  // After a problem nothing more is handed on, and the rest is still counted and hashed.
  const after = check(good + '{"key":1,"new_val":{"id":2}}\n' + good, 4096);
  assert.deepEqual(after.kept, []);
  assert.equal(after.observed.bytes, good.length * 2 + 29);
});

Deno.test("ChangesEntryCheck: a line with no end is refused at the limit, never held whole", () => {
  const lines = new ChangeLines(10);
  assert.throws(
    () => lines.push(bytes('{"key":1,"new_val":'), () => {}),
    (error) =>
      error instanceof ChangeLineError && /longer than the limit of 10 bytes/.test(error.message),
  );
  const checker = new ChangesEntryCheck("top/db/t.changes", "id");
  const mib = new Uint8Array(1 << 20).fill(0x61);
  let fed = 0;
  while (checker.problem === undefined && fed <= MAX_CHANGE_LINE_BYTES) {
    checker.feed(mib);
    fed += mib.length;
  }
  assert.match(
    checker.problem!,
    /^top\/db\/t\.changes: line 1: a line longer than the limit of \d+ bytes$/,
  );
  assert.ok(fed <= MAX_CHANGE_LINE_BYTES + mib.length);
});

/** The rules of an archive's `.changes` entries, as `verify` reports them. */
async function problemsOf(entries: RawEntry[]): Promise<string[]> {
  return allProblems(await inspectArchive(streamOf(rawTar(entries), 501)));
}

const table = (name: string, extra: Partial<CaptureTable> = {}): RawEntry[] =>
  captureEntries({ db: "db", table: name, docs: docs(20), changes: CHANGES, ...extra });

Deno.test("catalog: a well-formed point-in-time archive has no problem; each broken rule is one line", async () => {
  assert.deepEqual(await problemsOf([...table("a"), ...table("b", { changes: [] })]), []);
  const info = table("t")[0];
  const json = table("t")[1];
  const changes = table("t")[2];
  const cases: [string, RawEntry[], RegExp][] = [
    [
      "a .changes before its .json",
      table("t", { changesBefore: "json" }),
      /^rethinkdb_dump_.*\/db\/t\.changes: comes before its table's \.json; a dump writes \.info, \.json, then \.changes/,
    ],
    [
      "a .changes before its .info",
      table("t", { changesBefore: "info" }),
      /t\.changes: comes before its table's \.info; /,
    ],
    [
      "a .changes twice",
      [...table("t"), changes],
      /t\.changes: table db\.t's \.changes is in the archive twice/,
    ],
    [
      "a .changes without a capture record",
      table("t", { record: () => undefined }),
      /t\.changes: .*t\.info has no capture record, so nothing says what these changes are/,
    ],
    [
      "a .changes where the record counts none",
      table("t", { record: (c) => ({ ...c, changes: 0 }) }),
      /t\.changes: .*t\.info records no changes for the table, which then has no \.changes entry/,
    ],
    [
      "a record counting changes, no .changes",
      table("t", { omitChanges: true }),
      /^db\.t: .*t\.info records 5 changes but the archive has no \.changes entry for the table; the archive is incomplete$/,
    ],
    [
      "a count that lies",
      table("t", { record: (c) => ({ ...c, changes: 6 }) }),
      /^db\.t: 5 changes in .*t\.changes, the \.info recorded 6$/,
    ],
    [
      "a size that lies",
      table("t", { record: (c) => ({ ...c, changes_bytes: c.changes_bytes + 1 }) }),
      /^db\.t: .*t\.changes is \d+ bytes, the \.info recorded \d+$/,
    ],
    [
      "a checksum that lies",
      table("t", {
        changesBody: changesBody(
          CHANGES.map((c) => c.key === 500 ? { key: 500, new_val: { id: 500, name: "wen" } } : c),
        ),
      }),
      /^db\.t: .*t\.changes does not match the SHA-256 its \.info recorded; its changes are damaged$/,
    ],
    [
      "a bad line",
      table("t", { changesBody: '{"key":1,"new_val":{"id":2}}\n' }),
      /t\.changes: line 1: the document's primary key "id" is 2, not the change's key 1$/,
    ],
    [
      "two cuts",
      [...table("a"), ...table("t", { cut: "2026-12-06T09:00:08.000Z" })],
      /t\.info: its capture's cut 2026-12-06T09:00:08\.000Z is not the cut 2026-12-06T09:00:07\.250Z of .*a\.info; the archive mixes tables of different dumps$/,
    ],
    [
      "a .changes of a bad table name",
      captureEntries({ db: "db", table: "t x", docs: [], changes: CHANGES }).slice(2),
      /t x\.changes: table name "t x" is not valid/,
    ],
    [
      "a .changes path too deep",
      [info, json, { path: `${CAPTURE_TOP}/db/x/t.changes`, body: "" }],
      /a \.changes entry must be <top>\/<db>\/<table>\.changes/,
    ],
  ];
  for (const [label, entries, says] of cases) {
    const problems = await problemsOf(entries);
    assert.ok(problems.some((p) => says.test(p)), `${label}:\n${problems.join("\n")}`);
    assert.ok(problems.every((p) => !p.includes("\n")), label);
  }
  // The same cut written two ways is one cut.
  assert.deepEqual(
    await problemsOf([...table("a"), ...table("t", { cut: "2026-12-06T09:00:07.25Z" })]),
    [],
  );
  // An official table (no record) beside a point-in-time one is no problem of its own.
  const official: RawEntry[] = [
    { path: `${CAPTURE_TOP}/db/o.info`, body: '{"name":"o","primary_key":"id","indexes":[]}' },
    { path: `${CAPTURE_TOP}/db/o.json`, body: '[{"id":1}]' },
  ];
  assert.deepEqual(await problemsOf([...official, ...table("t")]), []);
});

Deno.test("list and list --json: the cut once, each table's changes; verify's summary", async () => {
  const archive = rawTarGz([
    ...table("a"),
    ...captureEntries({ db: "db", table: "quiet", docs: docs(3, 100), changes: [] }),
  ]);
  const output = await listArchive("-", streamOf(archive, 100));
  assert.deepEqual(output.problems, []);
  assert.deepEqual(output.archive, { top: CAPTURE_TOP, date: "2026-12-06T09:00:00", cut: CUT });
  assert.deepEqual(output.tables.map((t) => [t.table, t.documents, t.changes]), [
    ["a", 20, 5],
    ["quiet", 3, 0],
  ]);
  const text = listText(output);
  assert.match(
    text,
    /^Point in time: 2026-12-06T09:00:07\.250Z \(restore replays each table's changes up to this cut\)$/m,
  );
  assert.match(
    text,
    /^TABLE +PRIMARY KEY +DOCUMENTS +CHANGES +JSON BYTES +INDEXES +HOOK +CONFIG$/m,
  );
  assert.match(text, /^db\.a +id +20 +5 +\d+ +- +no +-$/m);
  assert.match(text, /^db\.quiet +id +3 +0 +\d+ +- +no +-$/m);
  assert.match(text, /^2 tables, 23 documents, 5 changes$/m);

  const report = await verifyArchive("-", streamOf(archive, 100));
  assert.deepEqual(report.problems, []);
  assert.equal(
    report.summary,
    "OK: 2 tables, 23 documents, 5 changes up to the cut 2026-12-06T09:00:07.250Z; " +
      "every count and SHA-256 matches its .info (changes included)",
  );
  const bad = await verifyArchive(
    "-",
    streamOf(rawTarGz(table("a", { record: (c) => ({ ...c, changes: 4 }) }))),
  );
  assert.equal(bad.ok, false);
  assert.deepEqual(bad.problems, [
    `db.a: 5 changes in ${CAPTURE_TOP}/db/a.changes, the .info recorded 4`,
  ]);
  assert.match(
    bad.summary,
    /^FAILED: 1 problem in 1 of 1 tables \(1 table, 20 documents, 5 changes up to the cut /,
  );

  // Without capture, nothing changes: no cut, no column, no changes key.
  const plain = rawTarGz(table("p", { record: () => undefined, omitChanges: true }));
  const listed = await listArchive("-", streamOf(plain));
  assert.equal("cut" in listed.archive, false);
  assert.equal("changes" in listed.tables[0], false);
  assert.doesNotMatch(listText(listed), /CHANGES|Point in time|changes/);
  const verified = await verifyArchive("-", streamOf(plain));
  assert.equal(
    verified.summary,
    "OK: 1 table, 20 documents; every count and SHA-256 matches its .info",
  );
});

Deno.test("ChangeBatcher: one kind per batch, a repeated key starts a new one, within the limits", () => {
  const change = (key: unknown, newVal: Doc | null) => ({
    key: bytes(JSON.stringify(key)),
    newVal: newVal === null ? null : bytes(JSON.stringify(newVal)),
  });
  const run = (changes: ReturnType<typeof change>[], limits = {}) => {
    const batcher = new ChangeBatcher(limits);
    const out = changes.map((c) => batcher.push(c)).filter((b) => b !== undefined);
    const last = batcher.finish();
    if (last) out.push(last);
    return out.map((b) => `${b.kind} ${decoder.decode(b.text)} ${b.count} ${b.bytes}`);
  };
  assert.deepEqual(
    run([
      change(1, { id: 1 }),
      change(2, { id: 2 }),
      change(3, null),
      change(4, null),
      change(3, null), // the same key again: a new batch, though the same kind
      change(1, { id: 1, v: 2 }),
      change(1, { id: 1, v: 3 }),
      change("a", { id: "a" }),
    ]),
    [
      'insert [{"id":1},{"id":2}] 2 16',
      "delete [3,4] 2 2",
      "delete [3] 1 1",
      'insert [{"id":1,"v":2}] 1 14',
      'insert [{"id":1,"v":3},{"id":"a"}] 2 24',
    ],
  );
  assert.deepEqual(run([change(1, null), change(2, null), change(3, null)], { batchChanges: 2 }), [
    "delete [1,2] 2 2",
    "delete [3] 1 1",
  ]);
  // Bytes: a change that would take a batch over the limit starts the next; a large one alone.
  assert.deepEqual(
    run([change(1, { id: 1 }), change(2, { id: 2, pad: "x".repeat(40) }), change(3, { id: 3 })], {
      batchBytes: 20,
    }),
    [
      'insert [{"id":1}] 1 8',
      `insert [{"id":2,"pad":"${"x".repeat(40)}"}] 1 57`,
      'insert [{"id":3}] 1 8',
    ],
  );
  assert.deepEqual(run([]), []);
  // Compound keys compare by their bytes.
  assert.deepEqual(run([change([1, "a"], null), change([1, "b"], null), change([1, "a"], null)]), [
    'delete [[1,"a"],[1,"b"]] 2 14',
    'delete [[1,"a"]] 1 7',
  ]);
});

Deno.test("dry run, summary, progress and ledger words for changes", () => {
  const meta = decodeInfo(table("t")[0].body as Uint8Array, "t.info");
  const plan = planRestore({
    tables: [{ db: "db", table: "t", meta, documents: 20, changes: 5 }],
    renames: ["db.t=db.t2"],
    existing: new Set(),
    cut: CUT,
  });
  assert.deepEqual(formatPlan(plan), [
    "db.t -> db.t2: would create; 20 documents, then 5 changes to replay; primary key id; indexes: none; write hook: no",
    `dry run: the restore would write 1 tables and replay 5 changes, bringing them to the cut ${CUT}`,
  ]);
  const summary = {
    documents: 20,
    tables: 1,
    indexes: 0,
    writeHooks: 0,
    seconds: 1.25,
    incompleteTables: [],
    notStarted: [],
    documentsByTable: {},
  };
  assert.equal(
    describeRestore({ ...summary, changes: 1234, cut: CUT }),
    "Restored 20 documents into 1 table, 0 secondary indexes and 0 write hooks in 1.3s; " +
      `1,234 changes replayed, up to the cut ${CUT}`,
  );
  assert.equal(
    describeRestore(summary),
    "Restored 20 documents into 1 table, 0 secondary indexes and 0 write hooks in 1.3s",
  );
  const progress = new Progress("restore", { quiet: true });
  progress.startTable("db.t", 20);
  progress.add("db.t", 20, 400);
  assert.doesNotMatch(progress.line(), /changes/);
  progress.addChanges("db.t", 1500);
  assert.match(progress.line(), /^restore: 20\/20 docs \| 1,500 changes \| 400 B \| /);
  progress.stop();
  const ledger = new RestoreLedger();
  ledger.plan("db.t");
  ledger.advance("db.t", "writing");
  ledger.acknowledge("db.t", 20);
  ledger.replayed("db.t", 3);
  assert.equal(ledger.outcome().changes, 3);
  assert.deepEqual(ledger.outcome().changesByTable, { "db.t": 3 });
});

Deno.test("deleteKeysJson is the term rethinkdb-ts builds for getAll(r.args(r.json(keys))).delete()", () => {
  const ours = q.deleteKeysJson(q.table("league", "users"), '[1,"a"]', {
    durability: "soft",
    ignore_write_hook: true,
  });
  const theirs = r.db("league").table("users").getAll(r.args(r.json('[1,"a"]'))).delete({
    durability: "soft",
    ignoreWriteHook: true,
  });
  assert.equal(JSON.stringify(ours), JSON.stringify((theirs as unknown as { term: unknown }).term));
  assert.deepEqual(q.queryTarget(ours), { db: "league", table: "users" });
});
