/** `restore --dry-run` against the test target: the plan by target name, and nothing written. */
import assert from "node:assert/strict";
import { r } from "npm:rethinkdb-ts@3.0.0";
import { dryRunRestore } from "../src/restore/dry_run.ts";
import { specDir } from "./support/shared.ts";
import { testTarget } from "./support/target.ts";

const USERS = new URL("official-dumps/league-users.tar.gz", specDir()).pathname;

Deno.test("restore --dry-run: renamed target in the way, --force, exit code, nothing written", async () => {
  const target = await testTarget();
  try {
    const db = target.uniqueDb("dry");
    const conn = await target.connect();
    await r.dbCreate(db).run(conn);
    await r.db(db).tableCreate("users", { primaryKey: "uid" }).run(conn);
    const base = {
      connect: { host: target.host, port: target.port, password: target.password },
      archive: USERS,
      renames: [`league=${db}`],
    };
    const blocked = await dryRunRestore(base);
    assert.equal(blocked.exitCode, 1);
    assert.match(
      blocked.lines[0],
      new RegExp(`^league\\.users -> ${db}\\.users: exists: in the way`),
    );
    assert.match(blocked.lines.at(-1)!, new RegExp(`^refused: table ${db}\\.users already exists`));
    const forced = await dryRunRestore({ ...base, force: true });
    assert.equal(forced.exitCode, 0);
    assert.match(forced.lines[0], /exists, --force would insert into it/);
    const fresh = await dryRunRestore({ ...base, renames: [`league=${db}_new`] });
    assert.equal(fresh.exitCode, 0);
    assert.match(fresh.lines[0], new RegExp(`-> ${db}_new\\.users: would create`));
    assert.equal(await r.db(db).table("users").count().run(conn), 0);
    assert.ok(!(await r.dbList().run(conn)).includes(`${db}_new`));
  } finally {
    await target.cleanup();
  }
});
