/**
 * Writing one table: create it (or reuse it with `--force`), insert its documents in batches on
 * several connections at once with bounded batches in flight, then its secondary indexes, then
 * its write hook. Every write result is checked.
 *
 * @module
 */

import type { DocumentBatch, TableMetadata } from "../archive/mod.ts";
import type { Connection, WriteResult } from "../connection/driver.ts";
import { BackupError } from "../errors.ts";

/** The connections inserts are spread over; one in-flight batch per connection. */
export class WriterPool {
  readonly #connections: Connection[];
  readonly #idle: Connection[];
  readonly #waiters: ((conn: Connection) => void)[] = [];

  constructor(connections: Connection[]) {
    this.#connections = connections;
    this.#idle = [...connections];
  }

  /** Waits for an idle connection. */
  async acquire(): Promise<Connection> {
    const conn = this.#idle.pop();
    if (conn) return conn;
    return await new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Returns a connection to the pool. */
  release(conn: Connection): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(conn);
    else this.#idle.push(conn);
  }

  /** The first connection, for schema changes. */
  get control(): Connection {
    return this.#connections[0];
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    await Promise.all(this.#connections.map((c) => c.close()));
  }
}

/** How a table is written. */
export interface TableWriteOptions {
  durability: "soft" | "hard";
  force: boolean;
  shards?: number;
  replicas?: number;
  signal?: AbortSignal;
  /** Called after each batch is confirmed. */
  onBatch?: (documents: number, bytes: number) => void;
}

/**
 * Creates the database and table as needed and waits until the table is ready.
 *
 * @example
 * ```ts
 * await prepareTable(conn, "league", "users", meta, { durability: "soft", force: false }, false);
 * ```
 */
export async function prepareTable(
  conn: Connection,
  db: string,
  table: string,
  meta: TableMetadata,
  options: TableWriteOptions,
  exists: boolean,
): Promise<void> {
  if (exists) return;
  const dbs = await conn.listDatabases();
  if (!dbs.includes(db)) {
    try {
      await conn.createDatabase(db);
    } catch (error) {
      // Another table of the same database may have created it meanwhile.
      if (!/already exists/.test((error as Error).message)) throw error;
    }
  }
  await conn.createTable(db, table, {
    primaryKey: meta.primaryKey,
    shards: options.shards,
    replicas: options.replicas,
  });
  await conn.waitForTable(db, table);
}

/**
 * Inserts every batch, up to one per pool connection at once; resolves when all are confirmed.
 * Any failed write stops the table with the server's first error.
 */
export async function insertBatches(
  pool: WriterPool,
  db: string,
  table: string,
  batches: AsyncIterable<DocumentBatch>,
  options: TableWriteOptions,
): Promise<number> {
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let written = 0;
  for await (const batch of batches) {
    if (options.signal?.aborted) throw options.signal.reason;
    if (failure) break;
    const conn = await pool.acquire();
    if (failure) {
      pool.release(conn);
      break;
    }
    const task = (async () => {
      try {
        const result = await conn.insertJson(db, table, batch.json, {
          durability: options.durability,
          conflict: options.force ? "replace" : "error",
        });
        checkWrite(result, batch.count, db, table);
        written += batch.count;
        options.onBatch?.(batch.count, batch.bytes);
      } catch (error) {
        failure ??= inTable(error, db, table);
      } finally {
        pool.release(conn);
      }
    })();
    inFlight.add(task);
    task.finally(() => inFlight.delete(task));
  }
  await Promise.all(inFlight);
  if (failure) throw failure;
  if (options.signal?.aborted) throw options.signal.reason;
  return written;
}

/** Names the table in an error that does not already. */
function inTable(error: unknown, db: string, table: string): unknown {
  if (!(error instanceof BackupError) || error.message.startsWith("restoring ")) return error;
  return new BackupError(`restoring ${db}.${table}: ${error.message}`, error.exitCode, {
    cause: error,
  });
}

/**
 * Throws unless the server wrote exactly `count` documents without error.
 *
 * @example
 * ```ts
 * checkWrite({ inserted: 2, replaced: 0, unchanged: 0, errors: 0, deleted: 0, skipped: 0 }, 2, "d", "t");
 * ```
 */
export function checkWrite(result: WriteResult, count: number, db: string, table: string): void {
  if (result.errors > 0) {
    const first = (result.first_error ?? "unknown error").split("\n")[0];
    const hint = /Duplicate primary key/.test(first)
      ? " (the table already holds that document; use --force to replace documents)"
      : "";
    throw new BackupError(`restoring ${db}.${table}: the server rejected a write: ${first}${hint}`);
  }
  const done = result.inserted + result.replaced + result.unchanged;
  if (done !== count) {
    throw new BackupError(
      `restoring ${db}.${table}: the server wrote ${done} of ${count} documents of a batch`,
    );
  }
}

/**
 * Creates the table's secondary indexes from their blobs (skipping ones that already exist with
 * `--force`) and waits for them. Returns how many were created.
 */
export async function restoreIndexes(
  conn: Connection,
  db: string,
  table: string,
  meta: TableMetadata,
): Promise<number> {
  if (meta.indexes.length === 0) return 0;
  const existing = new Set((await conn.indexStatus(db, table)).map((i) => i.index));
  let created = 0;
  for (const index of meta.indexes) {
    if (existing.has(index.index)) continue;
    await conn.createIndex(db, table, index.index, index.function);
    created++;
  }
  await conn.waitForIndexes(db, table, meta.indexes.map((i) => i.index));
  return created;
}
