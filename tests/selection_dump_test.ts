/** Dump end to end with -e patterns and --exclude, against the test target. */
import assert from "node:assert/strict";
import { r } from "npm:rethinkdb-ts@3.0.0";
import { readArchive } from "../src/archive/mod.ts";
import { dump } from "../src/dump/run.ts";
import { BackupError } from "../src/errors.ts";
import { testTarget } from "./support/target.ts";

async function entryNames(path: string): Promise<string[]> {
  const file = await Deno.open(path);
  const out: string[] = [];
  for await (const entry of readArchive(file.readable)) {
    out.push(entry.path.replace(/^[^/]+\//, ""));
    await entry.body.cancel();
  }
  return out.sort();
}

Deno.test("dump: -e 'db_*.t?' and --exclude select tables end to end", async () => {
  const target = await testTarget();
  const dir = await Deno.makeTempDir();
  try {
    const base = target.uniqueDb("sel");
    const a = target.track(`${base}_a`);
    const b = target.track(`${base}_b`);
    const conn = await target.connect();
    for (const db of [a, b]) {
      await r.dbCreate(db).run(conn);
      for (const table of ["t1", "t2", "t10", "u1"]) {
        await r.db(db).tableCreate(table).run(conn);
        await r.db(db).table(table).insert({ id: 1, table }).run(conn);
      }
    }
    const file = `${dir}/sel.tar.gz`;
    const summary = await dump({
      connect: { host: target.host, port: target.port, password: target.password },
      file,
      exports: [`${base}_*.t?`],
      excludes: [`${b}.t2`],
      progress: { quiet: true },
    });
    assert.equal(summary.tables, 3);
    assert.deepEqual(await entryNames(file), [
      `${a}/t1.info`,
      `${a}/t1.json`,
      `${a}/t2.info`,
      `${a}/t2.json`,
      `${b}/t1.info`,
      `${b}/t1.json`,
    ]);
    await assert.rejects(
      () =>
        dump({
          connect: { host: target.host, port: target.port, password: target.password },
          file: `${dir}/none.tar.gz`,
          exports: [`${base}_*.zz*`],
          progress: { quiet: true },
        }),
      (e: unknown) => e instanceof BackupError && /matches no table/.test(e.message),
    );
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["sel.tar.gz"]);
  } finally {
    await target.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});
