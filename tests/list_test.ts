/**
 * `list`: the official archives' tables as `expected.json` records them (counts read from the
 * data), an archive of ours (counts recorded, configuration shown), and the CLI as operators run
 * it (exit codes, stdin, missing file).
 */
import assert from "node:assert/strict";
import { listArchive } from "../src/cli/list_command.ts";
import { PERMISSION_FLAGS } from "../src/cli/permissions.ts";
import { listText } from "../src/inspect/list.ts";
import { buildArchive, streamOf, TEST_TOP } from "./support/inspect_archive.ts";
import { specDir } from "./support/shared.ts";

const OFFICIAL = new URL("official-dumps/", specDir());
const modUrl = new URL("../mod.ts", import.meta.url);
const decoder = new TextDecoder();

/** Runs `mod.ts` in a child process, feeding `stdin` when given. */
export async function runMod(args: string[], stdin?: Uint8Array) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSION_FLAGS, modUrl.href, ...args],
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  if (stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(stdin);
    await writer.close();
  }
  const out = await child.output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

Deno.test("list --json of the official archives matches expected.json", async () => {
  const expected = JSON.parse(
    await Deno.readTextFile(new URL("expected.json", OFFICIAL)),
  );
  for (const name of ["full.tar.gz", "league-users.tar.gz"]) {
    const output = await listArchive(new URL(name, OFFICIAL).pathname);
    const want = expected[name].tables;
    assert.deepEqual(output.problems, []);
    assert.equal(output.tables.length, Object.keys(want).length, name);
    for (const t of output.tables) {
      const w = want[`${t.db}.${t.table}`];
      assert.ok(w, `${t.db}.${t.table}`);
      assert.equal(t.documents, w.documents);
      assert.equal(t.json_bytes, w.json_bytes);
      assert.equal(t.primary_key, w.primary_key);
      assert.deepEqual(t.indexes, w.indexes.map((i: { index: string }) => i.index));
      assert.equal(t.write_hook, w.write_hook);
      assert.equal(t.counted, "read");
      assert.equal(t.config, undefined);
    }
    const top = expected[name].entries_in_archive_order[0].split("/")[0];
    assert.equal(output.archive.top, top);
    assert.equal(output.archive.date, top.replace("rethinkdb_dump_", ""));
    assert.match(listText(output), /\* counted by reading the data/);
  }
});

Deno.test("list of an archive of ours shows recorded counts and the saved configuration", async () => {
  const docs = Array.from({ length: 50 }, (_, i) => ({ id: i }));
  const bytes = await buildArchive([
    { db: "db", table: "t", docs },
    { db: "db", table: "plain", docs: docs.slice(0, 7), record: false, jsonFirst: true },
  ]);
  const output = await listArchive("-", streamOf(bytes, 333));
  assert.deepEqual(output.problems, []);
  assert.deepEqual(output.archive, { top: TEST_TOP, date: "2026-11-24T10:11:12" });
  const [t, plain] = output.tables;
  assert.equal(t.documents, 50);
  assert.equal(t.counted, "recorded");
  assert.deepEqual(t.config, {
    shards: 2,
    replicas: 1,
    durability: "hard",
    write_acks: "majority",
  });
  assert.equal(t.read_started, "2026-11-24T10:11:12.000Z");
  assert.match(t.dumped_by!, /^rethinkdb-backup /);
  assert.equal(plain.documents, 7);
  assert.equal(plain.counted, "read");
  const text = listText(output);
  assert.match(text, /^db\.t +id +50 +\d+ +- +no +2s\/1r hard\/majority$/m);
  assert.match(text, /^db\.plain +id +7\* /m);
  assert.match(text, /^2 tables, 57 documents$/m);
});

Deno.test("cli: list and verify from a file and from stdin, with exit codes", async () => {
  const file = new URL("league-users.tar.gz", OFFICIAL).pathname;
  const bytes = await Deno.readFile(file);
  const json = await runMod(["list", "--json", "-"], bytes);
  assert.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout);
  assert.equal(parsed.tables[0].documents, 1000);
  const text = await runMod(["list", file]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^league\.users +uid +1,000\* +572,113 /m);
  const ok = await runMod(["verify", "-"], bytes);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^OK: 1 table, 1,000 documents/);
  const cut = await runMod(["verify", "-"], bytes.subarray(0, bytes.length - 100));
  assert.equal(cut.code, 1);
  assert.match(cut.stdout, /^archive is truncated/m);
  assert.match(cut.stdout, /^FAILED: /m);
});

Deno.test("cli: a missing file is a one-line error; bad command lines exit 2", async () => {
  for (const command of ["list", "verify"]) {
    const missing = await runMod([command, "/nonexistent/backup.tar.gz"]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, "");
    assert.equal(
      missing.stderr.trim(),
      "rethinkdb-backup: error: archive /nonexistent/backup.tar.gz: no such file; " +
        "give the path of a .tar.gz archive or - for stdin",
    );
    const none = await runMod([command]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, new RegExp(`^rethinkdb-backup: error: ${command}: missing ARCHIVE`));
    const two = await runMod([command, "a", "b"]);
    assert.equal(two.code, 2);
    const unknown = await runMod([command, "--frob", "a"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown option --frob/);
    const help = await runMod([command, "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, new RegExp(`^Usage: rethinkdb-backup ${command} ARCHIVE`));
  }
  const garbage = await runMod(["verify", "-"], new TextEncoder().encode("hello"));
  assert.equal(garbage.code, 1);
  assert.match(
    garbage.stdout,
    /^not a tar or tar\.gz archive: only 5 bytes, less than a tar header$/m,
  );
});
