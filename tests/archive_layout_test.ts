import assert from "node:assert/strict";
import {
  archiveBaseName,
  checkSingleTop,
  defaultArchiveFileName,
  entryPath,
  parseEntryPath,
} from "../src/archive/layout.ts";
import { ArchiveError } from "../src/archive/errors.ts";
import { BackupError } from "../src/errors.ts";

const now = new Date(2026, 10, 23, 20, 7, 40); // local time

Deno.test("archiveBaseName() uses local time like datetime.now()", () => {
  assert.equal(archiveBaseName(now, "linux"), "rethinkdb_dump_2026-11-23T20:07:40");
  assert.equal(
    archiveBaseName(new Date(2026, 0, 2, 3, 4, 5), "darwin"),
    "rethinkdb_dump_2026-01-02T03:04:05",
  );
});

Deno.test("archiveBaseName() avoids ':' on Windows", () => {
  assert.equal(archiveBaseName(now, "windows"), "rethinkdb_dump_2026-11-23T20-07-40");
});

Deno.test("defaultArchiveFileName() appends .tar.gz", () => {
  assert.equal(defaultArchiveFileName(now, "linux"), "rethinkdb_dump_2026-11-23T20:07:40.tar.gz");
  assert.match(defaultArchiveFileName(now), /^rethinkdb_dump_2026-11-23T20.07.40\.tar\.gz$/);
});

Deno.test("entryPath() joins top, db and table", () => {
  const top = "rethinkdb_dump_2026-11-23T20:07:40";
  assert.equal(entryPath(top, "league", "users", "json"), `${top}/league/users.json`);
  assert.equal(entryPath(top, "other", "weird-name_1", "info"), `${top}/other/weird-name_1.info`);
  assert.throws(() => entryPath(top, "a/b", "t", "json"), ArchiveError);
  assert.throws(() => entryPath(top, "db", "", "json"), ArchiveError);
  assert.throws(() => entryPath(top, "..", "t", "json"), ArchiveError);
});

Deno.test("parseEntryPath() splits table entries", () => {
  const top = "rethinkdb_dump_2026-11-23T20:07:40";
  assert.deepEqual(parseEntryPath(`${top}/league/users.info`), {
    top,
    db: "league",
    table: "users",
    ext: "info",
  });
  assert.deepEqual(parseEntryPath(`${top}/other/weird-name_1.json`), {
    top,
    db: "other",
    table: "weird-name_1",
    ext: "json",
  });
  assert.deepEqual(parseEntryPath(`./${top}/db/t.csv`), { top, db: "db", table: "t", ext: "csv" });
  assert.deepEqual(parseEntryPath("top/db/t.v2.json"), {
    top: "top",
    db: "db",
    table: "t.v2",
    ext: "json",
  });
});

Deno.test("parseEntryPath() returns null for entries to skip", () => {
  assert.equal(parseEntryPath("top/"), null);
  assert.equal(parseEntryPath("top"), null);
  assert.equal(parseEntryPath("top/db/"), null);
  assert.equal(parseEntryPath("top/db"), null);
  assert.equal(parseEntryPath("top/README.txt"), null);
  assert.equal(parseEntryPath("top/db/t.json.bak"), null);
  assert.equal(parseEntryPath("top/db/.DS_Store"), null);
});

Deno.test("parseEntryPath() rejects unsafe paths", () => {
  for (
    const path of [
      "/top/db/t.json",
      "/etc/passwd",
      "../top/db/t.json",
      "top/../db/t.json",
      "top/db/../../t.info",
      "top/db/..",
      "C:/top/db/t.json",
      "\\top\\db\\t.json",
      "top\\..\\x/db/t.json",
    ]
  ) {
    assert.throws(() => parseEntryPath(path), (error: unknown) => {
      assert.ok(error instanceof ArchiveError, path);
      assert.ok(error instanceof BackupError);
      assert.ok(error.message.startsWith(path), error.message);
      assert.ok(!error.message.includes("\n"));
      return true;
    });
  }
});

Deno.test("parseEntryPath() rejects table entries at the wrong depth", () => {
  for (
    const path of [
      "t.json",
      "top/t.json",
      "top/db/sub/t.json",
      "a/b/c/d/t.info",
      "top/db/.json",
      "top//t.json",
      "/t.csv",
    ]
  ) {
    assert.throws(() => parseEntryPath(path), ArchiveError, path);
  }
  assert.throws(
    () => parseEntryPath("top/t.info"),
    /top\/t\.info: a \.info entry must be <top>\/<db>\/<table>\.info/,
  );
});

Deno.test("checkSingleTop() rejects a second top directory", () => {
  let seen: string | undefined;
  seen = checkSingleTop("dump_a", seen, "dump_a/db/t.info");
  seen = checkSingleTop("dump_a", seen, "dump_a/db/t.json");
  assert.equal(seen, "dump_a");
  assert.throws(
    () => checkSingleTop("dump_b", seen, "dump_b/db/t.json"),
    /^ArchiveError: dump_b\/db\/t\.json: a second top-level directory "dump_b"; the archive already has "dump_a"$/,
  );
});
