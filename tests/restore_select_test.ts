/**
 * `restore` with `--rename`, `--exclude`, `-i` patterns and `--force` end to end, and the saved
 * table configuration re-applied to the tables it creates.
 */
import assert from "node:assert/strict";
import { r } from "npm:rethinkdb-ts@3.0.0";
import { BackupError } from "../src/errors.ts";
import { connect } from "../src/connection/driver.ts";
import { dump } from "../src/dump/run.ts";
import type { RestoreOptions } from "../src/restore/options.ts";
import { restore } from "../src/restore/run.ts";
import { specDir } from "./support/shared.ts";
import { type TestTarget, testTarget } from "./support/target.ts";

const FULL = new URL("official-dumps/full.tar.gz", specDir()).pathname;

function options(target: TestTarget, extra: Partial<RestoreOptions>): RestoreOptions {
  return {
    connect: { host: target.host, port: target.port, password: target.password },
    archive: FULL,
    progress: { quiet: true },
    ...extra,
  };
}

Deno.test("restore --rename: a database restored under another name, beside the original", async () => {
  const target = await testTarget();
  try {
    const copy = target.uniqueDb("league_restored");
    const summary = await restore(options(target, {
      imports: ["league.*"],
      excludes: ["league.events"],
      renames: [`league=${copy}`],
    }));
    const conn = await target.connect();
    const tables = (await r.db(copy).tableList().run(conn)).sort();
    // --exclude beats the -i pattern: events is not restored.
    assert.ok(!tables.includes("events"), tables.join(","));
    assert.deepEqual(tables, ["empty", "users"]);
    assert.equal(summary.tables, tables.length);
    assert.ok(!(await r.dbList().run(conn)).includes("league") || target.server === undefined);
    assert.equal(await r.db(copy).table("users").info()("primary_key").run(conn), "uid");
    assert.ok(summary.documents > 0);
  } finally {
    await target.cleanup();
  }
});

Deno.test("restore --rename onto an existing table: refused without --force, inserted with it", async () => {
  const target = await testTarget();
  try {
    const staging = target.uniqueDb("staging");
    const conn = await target.connect();
    await r.dbCreate(staging).run(conn);
    await r.db(staging).tableCreate("users_0923", { primaryKey: "uid" }).run(conn);
    await r.db(staging).table("users_0923").insert({ uid: "keep-me", note: "already here" }).run(
      conn,
    );
    const rename = [`league.users=${staging}.users_0923`];
    const refused = await restore(options(target, { imports: ["league.users"], renames: rename }))
      .catch((e) => e);
    assert.ok(refused instanceof BackupError);
    assert.match(refused.message, new RegExp(`table ${staging}\\.users_0923 already exists`));
    assert.equal(await r.db(staging).table("users_0923").count().run(conn), 1, "nothing written");

    const summary = await restore(options(target, {
      imports: ["league.users"],
      renames: rename,
      force: true,
    }));
    assert.deepEqual(Object.keys(summary.documentsByTable), [`${staging}.users_0923`]);
    const count = await r.db(staging).table("users_0923").count().run(conn);
    assert.equal(count, summary.documents + 1, "archive documents plus the one already there");
  } finally {
    await target.cleanup();
  }
});

Deno.test("restore: two sources renamed onto one target is refused before anything is written", async () => {
  const target = await testTarget();
  try {
    const one = target.uniqueDb("one");
    const error = await restore(options(target, {
      renames: [`league.users=${one}.t`, `league.events=${one}.t`],
    })).catch((e) => e);
    assert.ok(error instanceof BackupError);
    assert.match(error.message, /would both be restored into/);
    const conn = await target.connect();
    assert.ok(!(await r.dbList().run(conn)).includes(one));
  } finally {
    await target.cleanup();
  }
});

Deno.test("restore re-applies the saved table configuration; --shards overrides it", async () => {
  const target = await testTarget();
  const dir = await Deno.makeTempDir();
  const conn = await connect({ host: target.host, port: target.port, password: target.password });
  try {
    const db = target.uniqueDb("cfg");
    await conn.createDatabase(db);
    await conn.createTable(db, "t", { primaryKey: "id", shards: 2 });
    await conn.waitForTable(db, "t");
    await conn.updateTableConfig(db, "t", { durability: "soft" });
    await conn.insertJson(db, "t", '[{"id":1},{"id":2}]');
    const file = `${dir}/cfg.tar.gz`;
    await dump({
      connect: { host: target.host, port: target.port, password: target.password },
      file,
      exports: [db],
      progress: { quiet: true },
    });
    const copy = target.uniqueDb("cfg_copy");
    await restore(options(target, { archive: file, renames: [`${db}=${copy}`] }));
    const restored = await conn.tableConfig(copy, "t");
    assert.equal(restored.shards.length, 2);
    assert.equal(restored.durability, "soft");

    const other = target.uniqueDb("cfg_other");
    await restore(options(target, { archive: file, renames: [`${db}=${other}`], shards: 1 }));
    assert.equal((await conn.tableConfig(other, "t")).shards.length, 1);
  } finally {
    await conn.close();
    await target.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});
