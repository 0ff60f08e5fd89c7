/**
 * Writing one table: create it (or reuse it with `--force`), insert its documents in batches on
 * several connections at once with bounded batches in flight, then its secondary indexes, then
 * its write hook. Every write result is checked.
 *
 * @module
 */

import type { DocumentBatch, TableMetadata } from "../archive/mod.ts";
import type { Connection, WriteResult } from "../connection/driver.ts";
import type { Link, LinkTable } from "../connection/link.ts";
import { DurableBatches, MAX_NOT_DURABLE_BYTES } from "./checkpoint.ts";
import { BackupError } from "../errors.ts";
import type { Throttle } from "../throttle/throttle.ts";

/**
 * The connections a restore writes over, each a {@link Link} that reconnects after a loss:
 * inserts take one each (one batch in flight per connection); schema changes are spread over
 * them all.
 *
 * @example
 * ```ts
 * const pool = new WriterPool(links);
 * const link = await pool.acquire();
 * pool.release(link);
 * await pool.run((conn) => conn.waitForTable("league", "users"), "waiting for league.users");
 * await pool.close();
 * ```
 */
export class WriterPool {
  readonly #links: Link[];
  readonly #idle: Link[];
  readonly #waiters: ((link: Link) => void)[] = [];
  #next = 0;
  #failures = 0;

  constructor(links: Link[]) {
    this.#links = links;
    this.#idle = [...links];
  }

  /** Waits for an idle link. */
  async acquire(): Promise<Link> {
    // The longest idle first: the work spreads over every connection (and server thread).
    const link = this.#idle.shift();
    if (link) return link;
    return await new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Returns a link to the pool. */
  release(link: Link): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(link);
    else this.#idle.push(link);
  }

  /**
   * Runs idempotent work (a schema change) on the next link in turn, again after a lost
   * connection or while `table` is unavailable: the server runs queries of different
   * connections in parallel more readily than those of one.
   */
  run<T>(work: (conn: Connection) => Promise<T>, task: string, table?: LinkTable): Promise<T> {
    const link = this.#links[this.#next++ % this.#links.length];
    return link.run(work, task, table);
  }

  /**
   * Failures (lost connections, unavailable tables) any link has met so far: each may be a
   * restart that lost soft writes (see `./checkpoint.ts`).
   */
  get failures(): number {
    return this.#failures;
  }

  /** Counts a failure; the links' `onRetry` calls it. */
  noteFailure(): void {
    this.#failures++;
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    await Promise.all(this.#links.map((link) => link.dispose()));
  }
}

/** How a table is written. */
export interface TableWriteOptions {
  durability: "soft" | "hard";
  force: boolean;
  shards?: number;
  replicas?: number;
  signal?: AbortSignal;
  /** Called after each batch is acknowledged (not for a batch sent again). */
  onBatch?: (documents: number, bytes: number) => void;
  /** Called as documents become durable: at each checkpoint, or at once with hard durability. */
  onDurable?: (documents: number) => void;
  /** `--max-rate` / `--backoff`, shared by every table and connection. */
  throttle?: Throttle;
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
  retried = false,
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
  const create = () =>
    conn.createTable(db, table, {
      primaryKey: meta.primaryKey,
      shards: options.shards,
      replicas: options.replicas,
    });
  try {
    await whileDatabaseUnseen(db, create, options.signal);
  } catch (error) {
    // Sent again after a lost connection, a creation that went through the first time finds
    // its own table (a table that existed before was refused by the plan).
    if (!(retried && /already exists/.test((error as Error).message))) throw error;
  }
  await conn.waitForTable(db, table);
}

/** How long a table creation waits for its new database to reach the connection's thread. */
export const DATABASE_VISIBLE_TIMEOUT_MS = 5000;

/**
 * Runs `work` again while it fails with "Database `db` does not exist.", for at most
 * {@link DATABASE_VISIBLE_TIMEOUT_MS}. A server's `dbCreate` returns once the database is known
 * on the thread of the connection that sent it; another connection, served by another thread,
 * can refuse a table in it for a few milliseconds more.
 *
 * @example
 * ```ts
 * await whileDatabaseUnseen("league", () => conn.createTable("league", "users", { primaryKey: "id" }));
 * ```
 */
export async function whileDatabaseUnseen<T>(
  db: string,
  work: () => Promise<T>,
  signal?: AbortSignal,
  timeoutMs = DATABASE_VISIBLE_TIMEOUT_MS,
): Promise<T> {
  const unseen = `Database \`${db}\` does not exist.`;
  const deadline = Date.now() + timeoutMs;
  for (let wait = 10;; wait = Math.min(wait * 2, 500)) {
    try {
      return await work();
    } catch (error) {
      if (!(error as Error).message?.includes(unseen) || Date.now() + wait > deadline) throw error;
    }
    signal?.throwIfAborted();
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/**
 * Document bytes of one table in flight at most (a single larger batch still goes alone): a
 * batch is held twice while in flight (its text and its query frame), so this bounds memory
 * when documents are large, and is never reached by batches of small ones.
 */
export const MAX_BYTES_IN_FLIGHT = 16 * 1024 * 1024;

/**
 * Inserts every batch, up to one per pool connection at once and {@link MAX_BYTES_IN_FLIGHT};
 * resolves with the documents written once all are durable. With soft durability the table is
 * made durable at checkpoints (`./checkpoint.ts`): batches a failure may have lost are sent
 * again first, and the last checkpoint comes after the last batch. Any failed write stops the
 * table with the server's first error.
 */
export async function insertBatches(
  pool: WriterPool,
  db: string,
  table: string,
  batches: AsyncIterable<DocumentBatch>,
  options: TableWriteOptions,
): Promise<number> {
  const where = { db, table };
  const log = options.durability === "soft" ? new DurableBatches() : undefined;
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let written = 0;
  let bytesInFlight = 0;
  let wake: (() => void) | undefined;
  let checkpoint: Promise<void> | undefined;
  const durable = (documents: number) => {
    written += documents;
    if (documents > 0) options.onDurable?.(documents);
  };
  const startCheckpoint = () => {
    const token = log!.begin();
    checkpoint = pool.run((conn) => conn.sync(db, table), `making ${db}.${table} durable`, where)
      .then(() => durable(log!.complete(token, pool.failures)))
      .catch((error) => void (failure ??= inTable(error, db, table)))
      .finally(() => (checkpoint = undefined));
  };
  /** Sends one batch once there is room; `again` for a batch a failure may have lost. */
  const send = async (batch: DocumentBatch, again: boolean) => {
    // Paced first, holding neither room nor a connection meanwhile; a batch sent again is
    // more load on the server like any other.
    await options.throttle?.take(batch.count, batch.bytes, options.signal);
    // The next batch is read while earlier ones are in flight, and sent once there is room.
    while (bytesInFlight > 0 && bytesInFlight + batch.bytes > MAX_BYTES_IN_FLIGHT && !failure) {
      await new Promise<void>((resolve) => (wake = resolve));
    }
    // Memory for durability is bounded too: past it, the next batch waits for a checkpoint.
    // (Batches a failure may have lost no checkpoint can cover: they are sent again first.)
    while (
      log && !failure && log.bytes > 0 && !log.hasSuspect(pool.failures) &&
      log.bytes + bytesInFlight + batch.bytes > MAX_NOT_DURABLE_BYTES
    ) {
      if (!checkpoint) startCheckpoint();
      await checkpoint;
    }
    if (failure) return;
    const link = await pool.acquire();
    if (failure) return pool.release(link);
    bytesInFlight += batch.bytes;
    const failuresAtSend = pool.failures;
    const task = (async () => {
      try {
        const sent = performance.now();
        const result = await insertOnce(link, where, batch, options, again);
        const latencyMs = performance.now() - sent;
        checkWrite(result, batch.count, db, table);
        if (!again) options.onBatch?.(batch.count, batch.bytes);
        if (!log) durable(batch.count);
        else {
          log.acknowledged(batch, failuresAtSend);
          if (log.due && !checkpoint) startCheckpoint();
        }
        // The insert's latency, unless a reconnect or a wait for the table is in it; any duty
        // pause keeps this connection idle before it takes the next batch.
        if (pool.failures === failuresAtSend) {
          await options.throttle?.settle(latencyMs, batch.count, batch.bytes, options.signal);
        }
      } catch (error) {
        failure ??= inTable(error, db, table);
      } finally {
        bytesInFlight -= batch.bytes;
        wake?.();
        wake = undefined;
        pool.release(link);
      }
    })();
    inFlight.add(task);
    task.finally(() => inFlight.delete(task));
  };
  /** Sends again what a failure may have lost; returns how many batches that was. */
  const resendSuspects = async () => {
    const suspects = log?.takeSuspect(pool.failures) ?? [];
    for (const batch of suspects) await send(batch, true);
    return suspects.length;
  };
  for await (const batch of batches) {
    if (options.signal?.aborted) throw options.signal.reason;
    if (failure) break;
    await resendSuspects();
    await send(batch, false);
  }
  // Until every batch is durable: what a failure may have lost goes again, then a checkpoint.
  while (!failure) {
    await Promise.all(inFlight);
    await checkpoint;
    if (failure || !log || options.signal?.aborted) break;
    if (await resendSuspects() > 0) continue;
    if (log.pending === 0) break;
    startCheckpoint();
  }
  await Promise.all(inFlight);
  if (failure) throw failure;
  if (options.signal?.aborted) throw options.signal.reason;
  return written;
}

/**
 * Sends one batch, and again on a new connection after each lost one, or once its unavailable
 * table is back (the link's backoff and budget). A batch sent again may already be in, in part
 * or whole: it goes with `conflict: "replace"`, so it leaves the same documents whether or not
 * the first send landed. The table holds only this archive's documents unless `--force`, where
 * replacing is the rule.
 */
async function insertOnce(
  link: Link,
  where: LinkTable,
  batch: DocumentBatch,
  options: TableWriteOptions,
  resend: boolean,
): Promise<WriteResult> {
  while (true) {
    let conn: Connection | undefined;
    try {
      conn = await link.connection();
      const result = await conn.insertJson(where.db, where.table, batch.text, {
        durability: options.durability,
        conflict: options.force || resend ? "replace" : "error",
      });
      link.succeeded();
      return result;
    } catch (error) {
      await link.recover(error, `restoring ${where.db}.${where.table}`, { conn, table: where });
      resend = true;
    }
  }
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
 * `--force`, or from an attempt cut short) and waits for them.
 */
export async function restoreIndexes(
  conn: Connection,
  db: string,
  table: string,
  meta: TableMetadata,
): Promise<void> {
  if (meta.indexes.length === 0) return;
  const existing = new Set((await conn.indexStatus(db, table)).map((i) => i.index));
  for (const index of meta.indexes) {
    if (existing.has(index.index)) continue;
    try {
      await conn.createIndex(db, table, index.index, index.function);
    } catch (error) {
      // Sent again after a lost connection, a creation that went through finds its own index.
      if (!/already exists/.test((error as Error).message)) throw error;
    }
  }
  await conn.waitForIndexes(db, table, meta.indexes.map((i) => i.index));
}
