import assert from "node:assert/strict";
import { ArchiveError } from "../src/archive/errors.ts";
import { prescanArchive, prescanError } from "../src/inspect/prescan.ts";
import { buildArchive, flipInside, gunzip, streamOf } from "./support/inspect_archive.ts";
import { specDir } from "./support/shared.ts";

const docs = Array.from({ length: 40 }, (_, i) => ({ id: i, v: `value ${i}` }));

Deno.test("prescanArchive: a damaged table of ours stops the restore, naming the table", async () => {
  const tar = await gunzip(
    await buildArchive([
      { db: "db", table: "good", docs },
      { db: "db", table: "bad", docs },
      { db: "db", table: "info_only", docs: [], omit: "json" },
    ]),
  );
  // The second "value 2" is in db.bad's .json.
  const text = new TextDecoder().decode(tar);
  const at = text.indexOf('"value 2"', text.indexOf("bad.json"));
  tar[at + 7] += 1;
  const scan = await prescanArchive(streamOf(tar));
  // A .info without its .json is damage too: a dump always writes both.
  assert.deepEqual(scan.damagedTables, ["db.bad", "db.info_only"]);
  assert.deepEqual([...scan.infos.keys()], ["db.good", "db.bad", "db.info_only"]);
  assert.deepEqual([...scan.data], ["db.good", "db.bad"]);
  const good = scan.archive.tables.get("db.good")!;
  assert.equal(good.observed?.documents, 40);
  assert.equal(good.observed?.sha256, good.metadata?.backup?.json_sha256);
  const error = prescanError(scan, "b.tar");
  assert.ok(error instanceof ArchiveError);
  assert.match(
    error.message,
    /^b\.tar: damaged tables: db\.bad, db\.info_only; db\.bad: .*SHA-256.* \(and 1 more\); nothing was written/,
  );
  assert.ok(!error.message.includes("\n"));
});

Deno.test("prescanArchive: the official archives have no problem", async () => {
  const file = await Deno.open(new URL("official-dumps/full.tar.gz", specDir()));
  const scan = await prescanArchive(file.readable);
  assert.deepEqual(scan.problems, []);
  assert.equal(prescanError(scan, "full.tar.gz"), undefined);
  assert.equal(scan.infos.size, 6);
  assert.equal(scan.data.size, 6);
  assert.equal(scan.infos.get("league.users")?.primaryKey, "uid");
  assert.equal(scan.archive.tables.get("league.events")?.observed?.documents, 5000);
});

Deno.test("prescanArchive: a truncated archive is a problem, not an exception", async () => {
  const bytes = await buildArchive([{ db: "db", table: "t", docs }]);
  const scan = await prescanArchive(streamOf(bytes.subarray(0, bytes.length - 30)));
  assert.match(scan.problems.join("\n"), /^archive is truncated/m);
  assert.match(prescanError(scan, "x.tar.gz")!.message, /archive is truncated/);
  const flipped = flipInside(await gunzip(bytes), '"value 3'); // "value 4": valid JSON
  assert.deepEqual((await prescanArchive(streamOf(flipped))).damagedTables, ["db.t"]);
});
