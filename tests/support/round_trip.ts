/**
 * A build of the tool, driven as an operator drives it (a child process per command), taken
 * through a round trip against a test target: seed the official archive's tables, `dump`,
 * `verify`, `list --json`, drop the databases, `restore`, and compare every table with what it
 * was (documents, primary key, secondary indexes, write hook). Shared by the bundle's test and
 * the executable's smoke test (`scripts/smoke_binary.ts`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Connection, r } from "npm:rethinkdb-ts@3.0.0";
import { seedOfficialData } from "./seed.ts";
import type { TestTarget } from "./target.ts";

/** What one command of the tool gave. */
export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the tool with `args` (a command and its options) in `cwd`. */
export type RunTool = (args: string[], cwd: string) => Promise<ToolResult>;

/** What {@link roundTrip} did, for a summary line. */
export interface RoundTripReport {
  tables: number;
  documents: number;
  archiveBytes: number;
}

/**
 * A {@link RunTool} for a command line (`deno run … file.js`, or an executable) run as a child
 * process without colors.
 *
 * @example
 * ```ts
 * const run = commandRunner(Deno.execPath(), ["run", "-A", "dist/rethinkdb-backup.js"]);
 * const { code } = await run(["--version"], ".");
 * ```
 */
export function commandRunner(
  command: string,
  prefix: readonly string[],
  env: Record<string, string> = {},
): RunTool {
  const decoder = new TextDecoder();
  return async (args, cwd) => {
    const output = await new Deno.Command(command, {
      args: [...prefix, ...args],
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", ...env },
    }).output();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  };
}

/** Runs a command that must succeed, and returns its result. */
async function ok(run: RunTool, args: string[], cwd: string): Promise<ToolResult> {
  const result = await run(args, cwd);
  assert.equal(result.code, 0, `${args[0]} failed (exit ${result.code}): ${result.stderr}`);
  return result;
}

function sortByKey(docs: Record<string, unknown>[], key: string) {
  return [...docs].sort((a, b) => JSON.stringify(a[key]) < JSON.stringify(b[key]) ? -1 : 1);
}

/** Every table of `dbs`, as the server holds it. */
async function snapshot(conn: Connection, dbs: string[]): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const db of dbs) {
    for (const table of (await r.db(db).tableList().run(conn)).sort()) {
      const info = await r.db(db).table(table).info().run(conn);
      const docs = await r.db(db).table(table).run(conn, {
        timeFormat: "raw",
        binaryFormat: "raw",
      });
      const indexes = await r.db(db).table(table).indexStatus().run(conn, {
        binaryFormat: "raw",
      });
      const hook = await r.db(db).table(table).getWriteHook().run(conn, { binaryFormat: "raw" });
      out[`${db}.${table}`] = {
        primaryKey: info.primary_key,
        docs: sortByKey(docs, info.primary_key as string),
        indexes: indexes.map((i) => ({ ...i, ready: true })),
        hook,
      };
    }
  }
  return out;
}

/**
 * The round trip of the module documentation, run by `run` in `cwd` (where the archive and the
 * password file go). Throws an assertion error on the first difference.
 *
 * @example
 * ```ts
 * const target = await testTarget();
 * const run = commandRunner("dist/rethinkdb-backup-x86_64-unknown-linux-gnu", []);
 * const { documents } = await roundTrip(run, target, await Deno.makeTempDir());
 * await target.cleanup();
 * ```
 */
export async function roundTrip(
  run: RunTool,
  target: TestTarget,
  cwd: string,
): Promise<RoundTripReport> {
  const prefix = `${target.uniqueDb("rt")}_`;
  const { dbs, tables } = await seedOfficialData(target, { dbPrefix: prefix });
  const conn = await target.connect();
  const before = await snapshot(conn, dbs);
  const connect = ["-c", `${target.host}:${target.port}`];
  if (target.password) {
    await Deno.writeTextFile(`${cwd}/password`, target.password);
    connect.push("--password-file", "password");
  }
  const archive = "round-trip.tar.gz";

  await ok(run, ["dump", ...connect, ...dbs.flatMap((db) => ["-e", db]), "-f", archive, "-q"], cwd);
  const verify = await ok(run, ["verify", archive], cwd);
  assert.match(verify.stdout, new RegExp(`^OK: ${tables.length} tables`), verify.stdout);
  const list = JSON.parse((await ok(run, ["list", archive, "--json"], cwd)).stdout) as {
    tables: { db: string; table: string; documents: number }[];
  };
  assert.deepEqual(
    list.tables.map((t) => `${t.db}.${t.table}=${t.documents}`).sort(),
    tables.map((t) => `${prefix}${t.db}.${t.name}=${t.docs.length}`).sort(),
  );

  for (const db of dbs) await r.dbDrop(db).run(conn);
  await ok(run, ["restore", archive, ...connect, "-q"], cwd);
  assert.deepEqual(await snapshot(conn, dbs), before, "restored tables equal the dumped ones");
  return {
    tables: tables.length,
    documents: tables.reduce((n, t) => n + t.docs.length, 0),
    archiveBytes: (await Deno.stat(`${cwd}/${archive}`)).size,
  };
}
