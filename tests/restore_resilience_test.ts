/**
 * A restore rides out dropped connections: every batch not acknowledged is sent again on a new
 * connection (idempotently), so the restored table equals the archive, nothing lost or doubled;
 * when the server stays away, the retry budget ends it with one line.
 */
import assert from "node:assert/strict";
import { r } from "npm:rethinkdb-ts@3.0.0";
import { dump } from "../src/dump/run.ts";
import { BackupError } from "../src/errors.ts";
import { restore } from "../src/restore/run.ts";
import { faultsSkipReason, type TestTarget, testTarget, withTarget } from "./support/target.ts";

const INSERT = 56;

/** A dumped table of `count` documents; returns the archive path and the source db. */
async function archiveOf(target: TestTarget, dir: string, count: number) {
  const db = target.uniqueDb("res");
  const conn = await target.connect();
  await r.dbCreate(db).run(conn);
  await r.db(db).tableCreate("t").run(conn);
  await r.db(db).table("t").insert(
    Array.from({ length: count }, (_, i) => ({ id: i, v: `value ${i}`, n: i * 0.5 })),
  ).run(conn);
  await r.db(db).table("t").indexCreate("v").run(conn);
  const file = `${dir}/res.tar.gz`;
  await dump({
    connect: { host: target.host, port: target.port, password: target.password },
    file,
    exports: [db],
    progress: { quiet: true },
  });
  return { file, db, conn };
}

Deno.test({
  name: "restore: connections dropped mid-insert are reconnected; the table equals the archive",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    await withTarget(async (target, dir) => {
      const { file, db } = await archiveOf(target, dir, 3000);
      const server = target.server!;
      let inserts = 0;
      // Drop every connection while the 3rd, 7th and 12th inserts are in flight.
      server.faults.delayResponses(50, (query) => {
        if (query.termType !== INSERT) return false;
        inserts++;
        if ([3, 7, 12].includes(inserts)) {
          setTimeout(() => server.dropConnections(), 10);
          return true;
        }
        return false;
      });
      const warnings: string[] = [];
      const copy = target.uniqueDb("res_copy");
      const summary = await restore({
        connect: { host: target.host, port: target.port, password: target.password },
        archive: file,
        renames: [`${db}=${copy}`],
        batchSize: 100,
        clients: 3,
        retryDelayMs: 10,
        progress: { write: (text) => warnings.push(text), intervalMs: 60_000 },
      });
      assert.equal(summary.documents, 3000);
      assert.equal(summary.tables, 1);
      assert.ok(
        warnings.some((w) => /reconnecting in .* \(0\.0s of --retry-for 60s spent\)/.test(w)),
        warnings.join(""),
      );
      // The test's own client was dropped with the rest: read back on a new one.
      const conn = await target.connect();
      const source = await r.db(db).table("t").orderBy({ index: "id" }).run(conn);
      const restored = await r.db(copy).table("t").orderBy({ index: "id" }).run(conn);
      assert.deepEqual(restored, source, "same documents, none lost or doubled");
      assert.deepEqual(await r.db(copy).table("t").indexList().run(conn), ["v"]);
    });
  },
});

Deno.test({
  name: "restore: when the server stays away, the retry budget ends it with one line",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    const target = await testTarget();
    const dir = await Deno.makeTempDir();
    try {
      const { file, db } = await archiveOf(target, dir, 500);
      const server = target.server!;
      let inserts = 0;
      server.faults.delayResponses(50, (query) => {
        if (query.termType !== INSERT || ++inserts !== 2) return false;
        setTimeout(() => {
          server.faults.refuseConnections("close");
          server.dropConnections();
        }, 10);
        return true;
      });
      const copy = target.uniqueDb("res_gone");
      const error = await restore({
        connect: { host: target.host, port: target.port, password: target.password },
        archive: file,
        renames: [`${db}=${copy}`],
        batchSize: 100,
        clients: 2,
        retryForMs: 300,
        retryDelayMs: 10,
        progress: { quiet: true },
      }).catch((e) => e);
      assert.ok(error instanceof BackupError, String(error));
      assert.match(error.message, /gave up after 0\.\ds of retrying \(--retry-for 0\.3s\)/);
      assert.ok(!error.message.includes("\n"));
      const stopped = (error as unknown as { summary: string }).summary;
      assert.match(stopped, new RegExp(`incomplete tables: ${copy}\\.t \\(\\d+ documents\\)`));
    } finally {
      target.server?.faults.reset();
      target.server?.faults.acceptConnections();
      await target.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
