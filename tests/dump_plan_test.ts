/** Table selection (`-e`) for dump, against a fake catalog; the server-backed cases are in dump_options_test.ts. */
import assert from "node:assert/strict";
import { parseSelection, planTables } from "../src/dump/plan.ts";
import { BackupError, UsageError } from "../src/errors.ts";

const catalog = {
  listDatabases: () => Promise.resolve(["emptydb", "league", "other", "rethinkdb"]),
  listTables: () =>
    Promise.resolve([
      { db: "other", table: "hooks_only" },
      { db: "league", table: "users" },
      { db: "league", table: "empty" },
      { db: "other", table: "weird-name_1" },
    ]),
};

Deno.test("parseSelection splits DB.TABLE at the first dot", () => {
  assert.deepEqual(parseSelection("league"), { db: "league" });
  assert.deepEqual(parseSelection("league.users"), { db: "league", table: "users" });
  assert.throws(() => parseSelection("league."), UsageError);
  assert.throws(() => parseSelection(".users"), UsageError);
  assert.throws(() => parseSelection(""), UsageError);
});

Deno.test("parseSelection refuses the system database", () => {
  assert.throws(() => parseSelection("rethinkdb"), /system database `rethinkdb` cannot be dumped/);
  assert.throws(() => parseSelection("rethinkdb.table_config"), UsageError);
});

Deno.test("planTables defaults to every user table, sorted", async () => {
  assert.deepEqual(await planTables(catalog, []), [
    { db: "league", table: "empty" },
    { db: "league", table: "users" },
    { db: "other", table: "hooks_only" },
    { db: "other", table: "weird-name_1" },
  ]);
});

Deno.test("planTables merges repeated and overlapping selections", async () => {
  assert.deepEqual(await planTables(catalog, ["league.users", "league", "other.hooks_only"]), [
    { db: "league", table: "empty" },
    { db: "league", table: "users" },
    { db: "other", table: "hooks_only" },
  ]);
  assert.deepEqual(await planTables(catalog, ["emptydb"]), []);
});

Deno.test("planTables names a missing database or table", async () => {
  await assert.rejects(
    planTables(catalog, ["nope"]),
    (e: Error) =>
      e instanceof BackupError &&
      e.message === "database `nope` does not exist; check -e (databases: emptydb, league, other)",
  );
  await assert.rejects(
    planTables(catalog, ["league.nope"]),
    (e: Error) =>
      e.message ===
        "table `league.nope` does not exist; check -e (tables of `league`: empty, users)",
  );
});

Deno.test("planTables: * and ? patterns in either part, never the system database", async () => {
  assert.deepEqual(await planTables(catalog, ["league.*"]), [
    { db: "league", table: "empty" },
    { db: "league", table: "users" },
  ]);
  assert.deepEqual(await planTables(catalog, ["*.u?ers", "oth*.hooks_*"]), [
    { db: "league", table: "users" },
    { db: "other", table: "hooks_only" },
  ]);
  const systemCatalog = {
    listDatabases: catalog.listDatabases,
    listTables: () =>
      Promise.resolve([{ db: "rethinkdb", table: "users" }, { db: "league", table: "users" }]),
  };
  assert.deepEqual(await planTables(systemCatalog, ["*"]), [{ db: "league", table: "users" }]);
  assert.deepEqual(await planTables(systemCatalog, ["*.users"]), [
    { db: "league", table: "users" },
  ]);
});

Deno.test("planTables: a pattern that matches nothing is an error listing what exists", async () => {
  await assert.rejects(
    planTables(catalog, ["logs_*"]),
    (e: Error) =>
      e instanceof BackupError &&
      e.message === "no database matches `logs_*`; check -e (databases: emptydb, league, other)",
  );
  await assert.rejects(
    planTables(catalog, ["league.x*"]),
    (e: Error) =>
      e.message === "-e `league.x*` matches no table; check -e (tables of `league`: empty, users)",
  );
  await assert.rejects(planTables(catalog, ["league.a b"]), UsageError);
});

Deno.test("planTables: --exclude beats -e; an exclude matching nothing is a warning", async () => {
  const warnings: string[] = [];
  const warn = (w: string) => warnings.push(w);
  assert.deepEqual(await planTables(catalog, ["league"], ["league.users"], warn), [
    { db: "league", table: "empty" },
  ]);
  assert.deepEqual(await planTables(catalog, [], ["league", "*.weird*"], warn), [
    { db: "other", table: "hooks_only" },
  ]);
  assert.deepEqual(warnings, []);
  assert.deepEqual(await planTables(catalog, ["other"], ["league.*", "nope"], warn), [
    { db: "other", table: "hooks_only" },
    { db: "other", table: "weird-name_1" },
  ]);
  assert.deepEqual(warnings, [
    "--exclude `league.*` matches no selected table",
    "--exclude `nope` matches no selected table",
  ]);
  await assert.rejects(planTables(catalog, [], ["a.b.c"]), UsageError);
});
