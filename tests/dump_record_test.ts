/**
 * The `.info` record a dump writes (count, size, SHA-256, read times, table config), checked
 * end to end: a fresh dump verifies clean offline, `list` reports the recorded counts and the
 * saved configuration, and the record matches the `.json` entry byte for byte.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readArchive } from "../src/archive/mod.ts";
import { decodeInfo } from "../src/archive/table_info.ts";
import { listArchive } from "../src/cli/list_command.ts";
import { verifyArchive } from "../src/cli/verify_command.ts";
import { connect } from "../src/connection/driver.ts";
import { dump } from "../src/dump/run.ts";
import { testTarget } from "./support/target.ts";

Deno.test("dump: each .info records count, size, SHA-256, read times and config; the archive verifies clean", async () => {
  const target = await testTarget();
  const dir = await Deno.makeTempDir();
  const conn = await connect({ host: target.host, port: target.port, password: target.password });
  try {
    const db = target.uniqueDb("rec");
    await conn.createDatabase(db);
    await conn.createTable(db, "two", { primaryKey: "id", shards: 2 });
    await conn.createTable(db, "empty", { primaryKey: "id" });
    await conn.waitForTable(db, "two");
    await conn.waitForTable(db, "empty");
    const docs = Array.from({ length: 300 }, (_, i) => ({ id: i, s: `é ${i}`, n: i / 7 }));
    await conn.insertJson(db, "two", JSON.stringify(docs));
    const file = `${dir}/rec.tar.gz`;
    const before = new Date().toISOString();
    await dump({
      connect: { host: target.host, port: target.port, password: target.password },
      file,
      exports: [db],
      progress: { quiet: true },
    });

    const report = await verifyArchive(file);
    assert.deepEqual(report.problems, []);
    assert.ok(report.ok, report.summary);
    assert.match(report.summary, /every count and SHA-256 matches/);

    const listed = await listArchive(file);
    const two = listed.tables.find((t) => t.table === "two")!;
    assert.equal(two.documents, 300);
    assert.equal(two.counted, "recorded");
    assert.equal(two.config?.shards, 2);
    assert.equal(listed.tables.find((t) => t.table === "empty")!.documents, 0);

    // The record describes the `.json` entry exactly.
    const infos = new Map<string, ReturnType<typeof decodeInfo>>();
    const jsons = new Map<string, Uint8Array>();
    for await (const entry of readArchive((await Deno.open(file)).readable)) {
      const bytes = new Uint8Array(await new Response(entry.body).arrayBuffer());
      const table = entry.path.split("/").at(-1)!;
      if (table.endsWith(".info")) infos.set(table.slice(0, -5), decodeInfo(bytes, entry.path));
      else jsons.set(table.slice(0, -5), bytes);
    }
    for (const [table, json] of jsons) {
      const record = infos.get(table)!.backup!;
      assert.equal(record.tool, "rethinkdb-backup");
      assert.equal(record.json_bytes, json.byteLength);
      assert.equal(record.json_sha256, createHash("sha256").update(json).digest("hex"));
      assert.ok(record.read_started >= before && record.read_ended >= record.read_started);
    }
  } finally {
    await conn.close();
    await target.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});
