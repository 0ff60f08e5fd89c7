/**
 * One set of archive rules: each broken or hostile archive goes through `verify`,
 * `restore FILE` and `restore -` (the CLI, in-process, against the test server or a real one).
 * The three must agree: exit 1, one error line naming the entry, and the server left as it was:
 * from stdin, what was created before the problem showed is dropped again.
 */
import assert from "node:assert/strict";
import { r } from "npm:rethinkdb-ts@3.0.0";
import { main } from "../src/cli/main.ts";
import {
  captureEntries,
  type CaptureTable,
  changesBody,
  type TestChange,
} from "./support/capture_archive.ts";
import { infoBody, jsonBody } from "./support/inspect_archive.ts";
import { type RawEntry, rawTar, rawTarGz } from "./support/raw_tar.ts";
import { type TestTarget, testTarget } from "./support/target.ts";

const TOP = "rethinkdb_dump_2026-12-06T08:00:00";
const encoder = new TextEncoder();

type Doc = Record<string, unknown>;

/** A table's two entries as a dump writes them, record included. */
function table(db: string, name: string, docs: Doc[], options: {
  /** The `.json` bytes to store instead of the real ones (the record describes the real). */
  json?: string | Uint8Array;
  /** Documents the record describes instead of `docs`. */
  recordDocs?: Doc[];
} = {}): RawEntry[] {
  const real = jsonBody(options.recordDocs ?? docs);
  const info = infoBody({ db, table: name, docs: options.recordDocs ?? docs }, real);
  const json = options.json ?? (options.recordDocs ? jsonBody(docs) : real);
  return [
    { path: `${TOP}/${db}/${name}.info`, body: info },
    { path: `${TOP}/${db}/${name}.json`, body: json },
  ];
}

const docs = (n: number, from = 0): Doc[] =>
  Array.from({ length: n }, (_, i) => ({ id: from + i, name: `user ${from + i}` }));

/** The official `.info` shape, without the record. */
const plainInfo = (name: string, primaryKey: unknown = "id") =>
  JSON.stringify({ name, primary_key: primaryKey, indexes: [], write_hook: null }) + "\n";

interface Case {
  label: string;
  /** The archive's bytes (gzip or plain tar). */
  bytes: Uint8Array;
  /** What every path's error must say. */
  says: RegExp;
}

/** Changes over `docs(50)`: an update, deletes, an insert. */
const CHANGES: TestChange[] = [
  { key: 1, new_val: { id: 1, name: "renamed" } },
  { key: 2, new_val: null },
  { key: 70, new_val: { id: 70, name: "new" } },
  { key: 3, new_val: null },
];

/** A point-in-time dump's table: `.info` with its capture record, `.json`, `.changes`. */
const pit = (db: string, name: string, extra: Partial<CaptureTable> = {}) =>
  captureEntries({ db, table: name, docs: docs(50), changes: CHANGES, ...extra }, TOP);

/** The hostile `.changes` of a point-in-time archive, each after a good table. */
function changesCases(db: string, first: RawEntry[]): Case[] {
  const gz = (entries: RawEntry[]) => rawTarGz([...first, ...entries]);
  const good = new TextDecoder().decode(changesBody(CHANGES.slice(0, 2)));
  return [
    {
      label: "a .changes line that is not JSON",
      bytes: gz(pit(db, "t", { changesBody: good + '{"key":3,"new_val":{"id":3,}}\n' })),
      says: /t\.changes: line 3: invalid JSON at byte \d+: /,
    },
    {
      label: "a .changes line that is not a change",
      bytes: gz(pit(db, "t", { changesBody: '{"key":1}\n' })),
      says: /t\.changes: line 1: not a change: no "new_val"/,
    },
    {
      label: "a change whose document has another primary key",
      bytes: gz(pit(db, "t", { changesBody: good + '{"key":3,"new_val":{"id":9}}\n' })),
      says: /t\.changes: line 3: the document's primary key "id" is 9, not the change's key 3/,
    },
    {
      label: "a change count that lies",
      bytes: gz(pit(db, "t", { record: (c) => ({ ...c, changes: 5 }) })),
      says: /\.t: 4 changes in .*t\.changes, the \.info recorded 5/,
    },
    {
      label: "a .changes size that lies",
      bytes: gz(pit(db, "t", { record: (c) => ({ ...c, changes_bytes: c.changes_bytes - 1 }) })),
      says: /t\.changes is \d+ bytes, the \.info recorded \d+/,
    },
    {
      label: "a .changes checksum that lies",
      bytes: gz(pit(db, "t", {
        changesBody: changesBody(
          CHANGES.map((c) =>
            c.key === 70 ? { ...c, key: 71, new_val: { id: 71, name: "new" } } : c
          ),
        ),
      })),
      says: /t\.changes does not match the SHA-256 its \.info recorded; its changes are damaged/,
    },
    {
      label: "a .changes without a capture record",
      bytes: gz(pit(db, "t", { record: () => undefined })),
      says: /t\.changes: .*t\.info has no capture record/,
    },
    {
      label: "a capture record counting changes, no .changes entry",
      bytes: gz(pit(db, "t", { omitChanges: true })),
      says: /t\.info records 4 changes but the archive has no \.changes entry for the table/,
    },
    {
      label: "two cuts in one archive",
      bytes: gz([...pit(db, "a"), ...pit(db, "t", { cut: "2026-12-06T09:01:00.000Z" })]),
      says:
        /t\.info: its capture's cut 2026-12-06T09:01:00\.000Z is not the cut .* the archive mixes tables of different dumps/,
    },
    {
      label: "a .changes before its .json",
      bytes: gz(pit(db, "t", { changesBefore: "json" })),
      says:
        /t\.changes: comes before its table's \.json; a dump writes \.info, \.json, then \.changes/,
    },
  ];
}

function cases(db: string): Case[] {
  const first = table(db, "first", docs(300));
  const gz = (entries: RawEntry[]) => rawTarGz(entries);
  const good = gz([...first, ...table(db, "second", docs(300, 1000))]);
  const badUtf8 = encoder.encode('[\n{"id":1,"name":"a\xff"}\n]\n'.replace("\xff", "\u0001"));
  badUtf8[badUtf8.indexOf(1)] = 0xff;
  const corrupt = good.slice();
  for (let i = corrupt.length >> 1; i < (corrupt.length >> 1) + 64; i++) corrupt[i] ^= 0x5a;
  return [
    {
      label: "a table name RethinkDB refuses",
      bytes: gz([...first, ...table(db, "t x!", docs(2))]),
      says: /t x!\.info: table name "t x!" is not valid in RethinkDB/,
    },
    {
      label: "a table name with a dot",
      bytes: gz([...first, ...table(db, "a.b", docs(2))]),
      says: /a\.b\.info: table name "a\.b" is not valid/,
    },
    {
      label: "a database name RethinkDB refuses",
      bytes: gz([...first, ...table(`${db} 2`, "t", docs(2))]),
      says: new RegExp(`database name "${db} 2" is not valid`),
    },
    {
      label: "the system database",
      bytes: gz([...first, ...table("rethinkdb", "users", docs(2))]),
      says: /rethinkdb\/users\.info: `rethinkdb` is the system database/,
    },
    {
      label: "a symlink where a table's data belongs",
      bytes: gz([
        ...first,
        table(db, "t", docs(2))[0],
        { path: `${TOP}/${db}/t.json`, type: "symlink", linkname: "/etc/passwd" },
      ]),
      says: /t\.json: a symlink entry, where a dump holds only regular files/,
    },
    {
      label: "a hard link where a table's data belongs",
      bytes: gz([
        ...first,
        table(db, "t", docs(2))[0],
        { path: `${TOP}/${db}/t.json`, type: "hardlink", linkname: `${TOP}/${db}/first.json` },
      ]),
      says: /t\.json: a hardlink entry/,
    },
    {
      label: "a FIFO anywhere",
      bytes: gz([...first, { path: `${TOP}/notes`, type: "fifo" }]),
      says: /notes: a special file \(device or FIFO\) entry/,
    },
    {
      label: "a .json without its .info",
      bytes: gz([...first, table(db, "t", docs(2))[1]]),
      says: /t\.json has no \.info entry/,
    },
    {
      label: "a .info without its .json",
      bytes: gz([...first, table(db, "t", docs(2))[0]]),
      says: /t\.info has no \.json entry/,
    },
    {
      label: "a .json twice",
      bytes: gz([...first, first[1]]),
      says: /first\.json: table .*first's \.json is in the archive twice/,
    },
    {
      label: "a second top directory",
      bytes: gz([...first, { path: `other_top/${db}/t.info`, body: plainInfo("t") }]),
      says: /other_top\/.*: a second top-level directory/,
    },
    {
      label: "an absolute path",
      bytes: gz([...first, { path: `/${TOP}/${db}/t.json`, body: "[]" }]),
      says: /absolute path in the archive/,
    },
    {
      label: "a path that climbs out",
      bytes: gz([...first, { path: `${TOP}/../${db}/t.json`, body: "[]" }]),
      says: /"\.\." in an entry path/,
    },
    {
      label: "a path too deep",
      bytes: gz([...first, { path: `${TOP}/${db}/x/t.json`, body: "[]" }]),
      says: /a \.json entry must be <top>\/<db>\/<table>\.json/,
    },
    {
      label: "CSV data",
      bytes: gz([...first, { path: `${TOP}/${db}/t.csv`, body: "id\n1\n" }]),
      says: /t\.csv: CSV table data/,
    },
    {
      label: "a .info that is not JSON",
      bytes: gz([...first, { path: `${TOP}/${db}/t.info`, body: "{nope" }, {
        path: `${TOP}/${db}/t.json`,
        body: "[]",
      }]),
      says: /t\.info: /,
    },
    {
      label: "a primary key that is not a string",
      bytes: gz([...first, { path: `${TOP}/${db}/t.info`, body: plainInfo("t", 7) }, {
        path: `${TOP}/${db}/t.json`,
        body: "[]",
      }]),
      says: /t\.info: .*primary_key/,
    },
    {
      label: "invalid JSON after the first table",
      bytes: gz([...first, ...table(db, "t", [], { json: '[\n{"id": 1},\n{"id": tru}\n]\n' })]),
      says: /t\.json: invalid JSON at byte 23/,
    },
    {
      label: "invalid UTF-8 in a string",
      bytes: gz([...first, ...table(db, "t", [], { json: badUtf8 })]),
      says: /t\.json: invalid JSON at byte \d+: .*UTF-8/,
    },
    {
      label: "one object instead of an array",
      bytes: gz([...first, ...table(db, "t", [], { json: '{"id": 1}' })]),
      says: /t\.json: not a JSON array/,
    },
    {
      label: "an array of numbers",
      bytes: gz([...first, ...table(db, "t", [], { json: "[1, 2]" })]),
      says: /t\.json: invalid JSON at byte 1: document 1 is not a JSON object/,
    },
    {
      label: "an empty .json",
      bytes: gz([...first, ...table(db, "t", [], { json: "" })]),
      says: /t\.json: holds no JSON array \(the entry is empty\)/,
    },
    {
      label: "a document without the primary key",
      bytes: gz([
        ...first,
        ...table(db, "t", [], { json: '[\n{"id": 1},\n{"uid": 2}\n]\n' }),
      ]),
      says: /t\.json: document 2 has no primary key "id"/,
    },
    {
      label: "a count that lies",
      bytes: gz([...first, ...table(db, "t", docs(2), { recordDocs: docs(3) })]),
      says: /\.t: 2 documents in .*t\.json, the \.info recorded 3/,
    },
    {
      label: "a checksum that lies",
      bytes: gz([...first, ...table(db, "t", docs(2), { recordDocs: docs(2, 1) })]),
      says: /t\.json does not match the SHA-256 its \.info recorded/,
    },
    {
      label: "a tar header whose size lies",
      bytes: gz([...first, table(db, "t", docs(2))[0], {
        path: `${TOP}/${db}/t.json`,
        body: "[]",
        claimedSize: 1 << 20,
      }]),
      says: /truncated/,
    },
    {
      label: "damaged gzip",
      bytes: corrupt,
      says: /gzip|deflate|invalid|CRC|header/i,
    },
    {
      label: "gzip cut short",
      bytes: good.slice(0, good.length - 100),
      says: /truncated/,
    },
    {
      label: "plain tar cut short",
      bytes: rawTar([...first, ...table(db, "t", docs(50))]).slice(0, 1024 + 512 * 3),
      says: /truncated/,
    },
    ...changesCases(db, first),
  ];
}

interface Run {
  code: number;
  out: string[];
  err: string[];
}

async function cli(args: string[], stdin?: Uint8Array): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, {
    programName: "rethinkdb-backup",
    context: {
      print: (text) => (out.push(...text.split("\n")), 0),
      printError: (text) => void err.push(...text.split("\n")),
      printVersion: () => 0,
      signal: new AbortController().signal,
      stdin: stdin === undefined ? undefined : ReadableStream.from([stdin]),
    },
  });
  return { code, out, err };
}

async function serverArgs(target: TestTarget, dir: string): Promise<string[]> {
  const args = ["-c", `${target.host}:${target.port}`, "-q", "--clients", "2"];
  if (target.password === "") return args;
  await Deno.writeTextFile(`${dir}/password`, target.password);
  return [...args, "--password-file", `${dir}/password`];
}

Deno.test("archive rules: verify, restore FILE and restore - refuse the same archives, and leave the server as it was", async () => {
  const target = await testTarget();
  const db = target.uniqueDb("rules");
  target.track(`${db} 2`);
  const dir = await Deno.makeTempDir();
  try {
    const conn = await target.connect();
    const systemTables = await r.db("rethinkdb").tableList().run(conn);
    const connection = await serverArgs(target, dir);
    for (const { label, bytes, says } of cases(db)) {
      const path = `${dir}/archive`;
      await Deno.writeFile(path, bytes);
      const verify = await cli(["verify", path]);
      assert.equal(verify.code, 1, `${label}: verify exits 1\n${verify.out.join("\n")}`);
      assert.ok(verify.out.some((line) => says.test(line)), `${label}: verify says\n${verify.out}`);

      const runs: [string, Run][] = [
        ["restore FILE", await cli(["restore", path, ...connection])],
        ["restore -", await cli(["restore", "-", ...connection], bytes)],
      ];
      for (const [how, run] of runs) {
        const errors = run.err.filter((line) => line.startsWith("rethinkdb-backup: error: "));
        assert.equal(run.code, 1, `${label}: ${how} exits 1\n${run.err.join("\n")}`);
        assert.equal(errors.length, 1, `${label}: ${how} prints one error line\n${run.err}`);
        assert.match(errors[0], says, `${label}: ${how}`);
        assert.ok(!run.err.some((line) => /^\s+at /.test(line)), `${label}: no stack trace`);
        const others = run.err.filter((line) => !errors.includes(line));
        if (how === "restore FILE") {
          assert.deepEqual(others, [], `${label}: nothing written, nothing else to say`);
        } else {
          // From stdin the first table may be under way when the problem shows: the summary.
          assert.ok(others.length <= 1, `${label}: ${run.err}`);
          if (others.length === 1) assert.match(others[0], /^restore stopped: /, label);
        }
        const dbs = await r.dbList().run(conn);
        assert.ok(!dbs.includes(db), `${label}: ${how} left database ${db} behind`);
        assert.ok(!dbs.includes(`${db} 2`), `${label}: ${how} left a database behind`);
      }
      assert.deepEqual(await r.db("rethinkdb").tableList().run(conn), systemTables, label);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
    await target.cleanup();
  }
});

/** The documents of a table, or 0 while it does not exist yet. */
async function countOf(conn: Awaited<ReturnType<TestTarget["connect"]>>, db: string, t: string) {
  try {
    return await r.db(db).table(t).count().run(conn);
  } catch {
    return 0;
  }
}

async function until(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 10));
}

Deno.test("archive rules: a restore from stdin that fails halfway drops what it created; run again, it succeeds", async () => {
  const target = await testTarget();
  const db = target.uniqueDb("half");
  const dir = await Deno.makeTempDir();
  try {
    const conn = await target.connect();
    const connection = await serverArgs(target, dir);
    const tar = rawTar([...table(db, "first", docs(500)), ...table(db, "second", docs(500, 1000))]);
    // The stream stops in the middle of the second table's data until the first is on the
    // server, then breaks.
    const cut = tar.length - 4096;
    let firstIn!: () => void;
    const firstWritten = new Promise<void>((resolve) => firstIn = resolve);
    let sent = false;
    const stdin = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (!sent) {
          sent = true;
          return controller.enqueue(tar.slice(0, cut));
        }
        await firstWritten;
        controller.error(new Error("the pipe broke"));
      },
    });
    const watcher = until(async () => (await countOf(conn, db, "first")) === 500).then(firstIn);
    const out: string[] = [];
    const code = await main(["restore", "-", ...connection, "--batch-size", "100"], {
      context: {
        print: () => 0,
        printError: (text) => void out.push(text),
        printVersion: () => 0,
        signal: new AbortController().signal,
        stdin,
      },
    });
    await watcher;
    assert.equal(code, 1, out.join("\n"));
    assert.match(
      out.at(-1)!,
      /^rethinkdb-backup: error: cannot read the archive: .*the pipe broke/,
    );
    assert.match(
      out.at(-2)!,
      new RegExp(
        `removed what this run created: table ${db}\\.first, table ${db}\\.second, database ${db}$`,
      ),
    );
    assert.ok(!(await r.dbList().run(conn)).includes(db), "the database is gone");

    // The same command, given the whole archive: no --force needed.
    const again = await cli(["restore", "-", ...connection], tar);
    assert.equal(again.code, 0, again.err.join("\n"));
    assert.equal(await countOf(conn, db, "first"), 500);
    assert.equal(await countOf(conn, db, "second"), 500);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await target.cleanup();
  }
});

Deno.test("archive rules: an interrupted restore from a file drops what it created, keeps what existed; --keep-partial keeps it", async () => {
  const target = await testTarget();
  const db = target.uniqueDb("intr");
  const dir = await Deno.makeTempDir();
  try {
    const conn = await target.connect();
    const connection = await serverArgs(target, dir);
    // An existing table, written into with --force: it must survive the cleanup.
    await r.dbCreate(db).run(conn);
    await r.db(db).tableCreate("existing").run(conn);
    const path = `${dir}/archive.tar`;
    await Deno.writeFile(
      path,
      rawTar([
        ...table(db, "existing", docs(50, 100_000)),
        ...table(db, "first", docs(200)),
        ...table(db, "second", docs(20_000, 1000)),
      ]),
    );
    const interrupt = async (extra: string[]) => {
      const controller = new AbortController();
      const out: string[] = [];
      const running = main(
        [
          "restore",
          path,
          ...connection,
          "--force",
          "--clients",
          "1",
          "--batch-size",
          "50",
          ...extra,
        ],
        {
          context: {
            print: () => 0,
            printError: (text) => void out.push(text),
            printVersion: () => 0,
            signal: controller.signal,
          },
        },
      );
      await until(async () => (await countOf(conn, db, "second")) > 0);
      const { InterruptedError } = await import("../src/errors.ts");
      controller.abort(new InterruptedError("SIGINT"));
      return { code: await running, out };
    };

    const stopped = await interrupt([]);
    assert.equal(stopped.code, 130, stopped.out.join("\n"));
    assert.match(
      stopped.out.at(-2)!,
      new RegExp(`removed what this run created: table ${db}\\.first, table ${db}\\.second$`),
    );
    assert.deepEqual(await r.db(db).tableList().run(conn), ["existing"], "only what existed");
    assert.equal(await countOf(conn, db, "existing"), 50, "what was written into it stays");

    const kept = await interrupt(["--keep-partial"]);
    assert.equal(kept.code, 130, kept.out.join("\n"));
    assert.match(kept.out.at(-2)!, /kept what this run created \(--keep-partial\)$/);
    assert.deepEqual((await r.db(db).tableList().run(conn)).sort(), [
      "existing",
      "first",
      "second",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await target.cleanup();
  }
});
