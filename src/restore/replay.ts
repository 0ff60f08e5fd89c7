/**
 * Replaying a point-in-time dump's changes (`../archive/changes.ts`) over a table whose
 * documents are in and durable: each change sets its key's document (an insert with
 * `conflict: "replace"`) or deletes it, in the archive's order, so that the table ends as it was
 * at the cut.
 *
 * Changes go in batches: consecutive changes of one kind, up to the data path's limits
 * (documents and bytes per query), and never two changes of one key in one write (a batch ends
 * where a key comes again), so the server cannot apply them out of order. Batches go one after
 * another, on whichever connection of the pool is free: order matters, and each waits for the
 * one before.
 *
 * A change is idempotent (the last change of a key decides it, whatever was applied before), so
 * a failure is ridden out as the data's are (`./checkpoint.ts`): after any failure of the pool,
 * every batch not yet covered by a checkpoint is sent again, all of them and in order, before
 * the next; only changes a checkpoint (`table.sync()`) covered are counted as replayed.
 *
 * @module
 */

import type { Change } from "../archive/changes.ts";
import { DEFAULT_BATCH_BYTES, DEFAULT_BATCH_DOCUMENTS } from "../archive/documents.ts";
import type { WriteResult } from "../connection/driver.ts";
import type { Link, LinkTable } from "../connection/link.ts";
import { BackupError } from "../errors.ts";
import type { Throttle } from "../throttle/throttle.ts";
import { CHECKPOINT_BYTES } from "./checkpoint.ts";
import { checkWrite, type WriterPool } from "./writer.ts";

/** Consecutive changes of one kind, ready for one query. */
export interface ChangeBatch {
  /** `insert`: documents set (replacing); `delete`: keys deleted. */
  kind: "insert" | "delete";
  /** A JSON array (UTF-8) of the documents, or of the keys, each exactly as in the entry. */
  text: Uint8Array;
  /** Changes in the batch. */
  count: number;
  /** Bytes of the documents' (or keys') text, separators excluded. */
  bytes: number;
}

/** Limits of a {@link ChangeBatch}. */
export interface ChangeBatchLimits {
  /** Changes per batch at most (default: the data's 1000, or `--batch-size`). */
  batchChanges?: number;
  /** Bytes per batch at most, a larger single change going alone (default: the data's 4 MiB). */
  batchBytes?: number;
}

const decoder = new TextDecoder();

/**
 * Groups changes, in order, into {@link ChangeBatch}es.
 *
 * @example
 * ```ts
 * import { ChangeBatcher } from "./replay.ts";
 *
 * const bytes = (text: string) => new TextEncoder().encode(text);
 * const batcher = new ChangeBatcher();
 * batcher.push({ key: bytes("1"), newVal: bytes('{"id":1}') }); // undefined: the batch grows
 * batcher.push({ key: bytes("1"), newVal: null }); // the insert batch: a delete follows
 * batcher.finish(); // the delete batch: {kind: "delete", text: "[1]", count: 1, …}
 * ```
 */
export class ChangeBatcher {
  readonly #maxChanges: number;
  readonly #maxBytes: number;
  #kind: ChangeBatch["kind"] = "insert";
  #values: Uint8Array[] = [];
  #bytes = 0;
  // The keys in the batch, as text: a key seen again ends the batch.
  #keys = new Set<string>();

  constructor(limits: ChangeBatchLimits = {}) {
    this.#maxChanges = Math.max(1, limits.batchChanges ?? DEFAULT_BATCH_DOCUMENTS);
    this.#maxBytes = Math.max(1, limits.batchBytes ?? DEFAULT_BATCH_BYTES);
  }

  /** Adds the next change; returns the batch it closed, if it could not join it. */
  push(change: Change): ChangeBatch | undefined {
    const kind = change.newVal === null ? "delete" : "insert";
    const value = change.newVal ?? change.key;
    const key = decoder.decode(change.key);
    let closed: ChangeBatch | undefined;
    if (
      this.#values.length > 0 &&
      (kind !== this.#kind || this.#keys.has(key) || this.#values.length >= this.#maxChanges ||
        this.#bytes + value.length > this.#maxBytes)
    ) {
      closed = this.#close();
    }
    this.#kind = kind;
    this.#values.push(value);
    this.#bytes += value.length;
    this.#keys.add(key);
    return closed;
  }

  /** The last batch, if any change is left. */
  finish(): ChangeBatch | undefined {
    return this.#values.length > 0 ? this.#close() : undefined;
  }

  #close(): ChangeBatch {
    const values = this.#values;
    // `[`, the values, a `,` between each two, `]`.
    const text = new Uint8Array(this.#bytes + values.length + 1);
    text[0] = 0x5b; // `[`
    let p = 1;
    values.forEach((value, i) => {
      if (i > 0) text[p++] = 0x2c; // `,`
      text.set(value, p);
      p += value.length;
    });
    text[p] = 0x5d; // `]`
    const batch = { kind: this.#kind, text, count: values.length, bytes: this.#bytes };
    this.#values = [];
    this.#bytes = 0;
    this.#keys = new Set();
    return batch;
  }
}

/** How a table's changes are replayed. */
export interface ReplayOptions {
  durability: "soft" | "hard";
  signal?: AbortSignal;
  /** `--max-rate` / `--backoff`, shared by every table and connection. */
  throttle?: Throttle;
  /** Called after each batch is acknowledged (not for a batch sent again). */
  onBatch?: (changes: number) => void;
  /** Called as changes become durable: at each checkpoint, or at once with hard durability. */
  onDurable?: (changes: number) => void;
  /** Bytes acknowledged and not durable that make a checkpoint due (default 16 MiB). */
  checkpointBytes?: number;
}

/**
 * Replays a table's change batches, in order, one at a time; resolves with the changes
 * replayed once all are durable. Any write the server refuses stops it with the server's error.
 *
 * @example
 * ```ts
 * import { ChangeBatcher, replayChanges } from "./replay.ts";
 *
 * const batcher = new ChangeBatcher();
 * const batches = [batcher.push(change), batcher.finish()].filter((b) => b !== undefined);
 * await replayChanges(pool, "league", "users", batches, { durability: "soft" });
 * ```
 */
export async function replayChanges(
  pool: WriterPool,
  db: string,
  table: string,
  batches: AsyncIterable<ChangeBatch> | Iterable<ChangeBatch>,
  options: ReplayOptions,
): Promise<number> {
  const where = { db, table };
  const soft = options.durability === "soft";
  const checkpointBytes = options.checkpointBytes ?? CHECKPOINT_BYTES;
  // Acknowledged, not yet durable, in order; all were sent while the pool's failure count was
  // `epoch` (a later failure makes every one of them suspect).
  const pending: ChangeBatch[] = [];
  let pendingBytes = 0;
  let epoch = pool.failures;
  let replayed = 0;
  const durable = (changes: number) => {
    replayed += changes;
    if (changes > 0) options.onDurable?.(changes);
  };
  const send = async (batch: ChangeBatch, again: boolean) => {
    options.signal?.throwIfAborted();
    await options.throttle?.take(batch.count, batch.bytes, options.signal);
    const link = await pool.acquire();
    try {
      const failuresAtSend = pool.failures;
      const sent = performance.now();
      const result = await writeOnce(link, where, batch, options.durability);
      const latencyMs = performance.now() - sent;
      checkReplayed(result, batch, db, table);
      if (!again) options.onBatch?.(batch.count);
      if (pool.failures === failuresAtSend) {
        await options.throttle?.settle(latencyMs, batch.count, batch.bytes, options.signal);
      }
    } catch (error) {
      throw inTable(error, db, table);
    } finally {
      pool.release(link);
    }
  };
  /**
   * After a failure, sends every pending batch again, all and in order: a later change of a key
   * may be in while an earlier one was lost, and only the whole sequence again restores it.
   */
  const resend = async () => {
    while (pending.length > 0 && pool.failures !== epoch) {
      epoch = pool.failures;
      for (const batch of pending) await send(batch, true);
    }
  };
  const checkpoint = async () => {
    await resend();
    if (pending.length === 0) return;
    const before = epoch;
    try {
      await pool.run((conn) => conn.sync(db, table), `making ${db}.${table} durable`, where);
    } catch (error) {
      throw inTable(error, db, table);
    }
    // A failure during the sync may have lost some: the next resend sends them again.
    if (pool.failures !== before) return;
    durable(pending.reduce((sum, batch) => sum + batch.count, 0));
    pending.length = 0;
    pendingBytes = 0;
  };
  // The batches' own errors (an archive problem found as the entry streams) pass as they are.
  for await (const batch of batches) {
    await resend();
    if (pending.length === 0) epoch = pool.failures;
    await send(batch, false);
    if (!soft) {
      durable(batch.count);
      continue;
    }
    pending.push(batch);
    pendingBytes += batch.bytes;
    if (pendingBytes >= checkpointBytes) await checkpoint();
  }
  while (pending.length > 0) {
    options.signal?.throwIfAborted();
    await checkpoint();
  }
  return replayed;
}

/**
 * Sends one batch, and again on a new connection after each lost one, or once its unavailable
 * table is back (the link's backoff and budget).
 */
async function writeOnce(
  link: Link,
  where: LinkTable,
  batch: ChangeBatch,
  durability: "soft" | "hard",
): Promise<WriteResult> {
  const { db, table } = where;
  return await link.run(
    (conn) =>
      batch.kind === "insert"
        ? conn.insertJson(db, table, batch.text, { durability, conflict: "replace" })
        : conn.deleteKeysJson(db, table, batch.text, { durability }),
    `restoring ${db}.${table} (replaying its changes)`,
    where,
  );
}

/** Throws unless the server applied the batch without error. */
function checkReplayed(result: WriteResult, batch: ChangeBatch, db: string, table: string): void {
  if (batch.kind === "insert") return checkWrite(result, batch.count, db, table);
  if (result.errors > 0) {
    const first = (result.first_error ?? "unknown error").split("\n")[0];
    throw new BackupError(`restoring ${db}.${table}: the server rejected a delete: ${first}`);
  }
}

/** Names the table in an error that does not already. */
function inTable(error: unknown, db: string, table: string): unknown {
  if (!(error instanceof BackupError) || error.message.startsWith("restoring ")) return error;
  return new BackupError(`restoring ${db}.${table}: ${error.message}`, error.exitCode, {
    cause: error,
  });
}
