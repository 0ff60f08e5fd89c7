/**
 * Memory does not grow with the number of tables: the peak RSS of a dump and of a restore of 300
 * small tables (the dump with change capture, as by default) stays within a few megabytes of the
 * same commands for 10 tables. Each command runs as its own process under GNU `time`, against
 * the in-process test server (or a real one), so only the tool's memory is measured.
 *
 * The bound is loose enough for a busy machine and tight enough to catch per-table state: before
 * the small-table work (exact-size frame bodies, one compression worker for small bodies, the
 * garbage governor) 300 tables cost 48–57 MB more than 10; now 7–16 MB.
 */
import assert from "node:assert/strict";
import { r } from "npm:rethinkdb-ts@3.0.0";
import { PERMISSION_FLAGS } from "../src/cli/permissions.ts";
import { testTarget } from "./support/target.ts";

const TABLES = 300;
const FEW = 10;
/** Peak RSS 300 tables may take over 10, in MB. */
const GROWTH_MB = 25;
const TIME = "/usr/bin/time";
const mod = new URL("../mod.ts", import.meta.url).pathname;

const hasTime = (() => {
  try {
    return Deno.statSync(TIME).isFile;
  } catch {
    return false;
  }
})();

/** Runs the tool with `args` as a child; returns its peak RSS in MB. */
async function peakRssMb(args: string[]): Promise<number> {
  const out = await new Deno.Command(TIME, {
    args: ["-f", "PEAK %M", Deno.execPath(), "run", ...PERMISSION_FLAGS, mod, ...args, "-q"],
    stdout: "null",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stderr);
  const line = text.split("\n").find((l) => l.startsWith("PEAK "));
  assert.ok(out.success && line, `${args.join(" ")} failed:\n${text}`);
  return Number(line.slice(5)) / 1024;
}

Deno.test({
  name: `memory: ${TABLES} tables dump and restore within ${GROWTH_MB} MB of ${FEW} tables`,
  ignore: !hasTime,
  async fn() {
    const target = await testTarget();
    const dir = await Deno.makeTempDir();
    try {
      const address = `${target.host}:${target.port}`;
      const passwordFile = `${dir}/password`;
      await Deno.writeTextFile(passwordFile, `${target.password}\n`);
      const server = ["-c", address, ...(target.password ? ["--password-file", passwordFile] : [])];
      const db = target.uniqueDb("mem");
      const conn = await target.connect();
      await r.dbCreate(db).run(conn);
      const names = Array.from({ length: TABLES }, (_, i) => `t${String(i).padStart(3, "0")}`);
      for (let i = 0; i < names.length; i += 50) {
        await Promise.all(
          names.slice(i, i + 50).map(async (name) => {
            await r.db(db).tableCreate(name).run(conn);
            await r.db(db).table(name).insert(
              Array.from({ length: 20 }, (_, k) => ({ id: k, text: `${name} ${"x".repeat(300)}` })),
            ).run(conn);
          }),
        );
      }
      const few = names.slice(0, FEW).flatMap((name) => ["-e", `${db}.${name}`]);
      const fewArchive = `${dir}/few.tar.gz`;
      const allArchive = `${dir}/all.tar.gz`;
      const dumpFew = await peakRssMb(["dump", ...server, ...few, "-f", fewArchive]);
      const dumpAll = await peakRssMb(["dump", ...server, "-e", db, "-f", allArchive]);
      const copyFew = target.uniqueDb("memfew");
      const copyAll = target.uniqueDb("memall");
      const restoreFew = await peakRssMb(
        ["restore", fewArchive, ...server, "--rename", `${db}=${copyFew}`],
      );
      const restoreAll = await peakRssMb(
        ["restore", allArchive, ...server, "--rename", `${db}=${copyAll}`],
      );
      assert.equal(await r.db(copyAll).tableList().count().run(conn), TABLES);
      const report = `dump ${dumpFew.toFixed(0)} → ${dumpAll.toFixed(0)} MB, restore ${
        restoreFew.toFixed(0)
      } → ${restoreAll.toFixed(0)} MB`;
      assert.ok(dumpAll - dumpFew <= GROWTH_MB, report);
      assert.ok(restoreAll - restoreFew <= GROWTH_MB, report);
    } finally {
      await target.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
