/**
 * What a restore may count as written. With `durability: "soft"` (the default, as in the
 * official tool) the server acknowledges a batch before it is on disk, so a crash or a restart
 * can lose acknowledged batches (680 of 23,000 in one test on a real 2.4.4 server). So each
 * table makes its progress durable at checkpoints, `table.sync()` every
 * {@link CHECKPOINT_BYTES} and at its end, and keeps the batches acknowledged since the last
 * checkpoint: when any connection of the restore fails (a lost connection, an unavailable
 * table: what a restart looks like from here), the batches acknowledged before that failure and
 * not yet covered by a checkpoint may be gone, and are sent again (`conflict: "replace"` makes
 * that idempotent). Only what a checkpoint covered is counted as written.
 *
 * Failures are counted by the writer pool; each batch carries the count at the moment it was
 * sent. A batch is durable when a `sync()` that began after its acknowledgement completes with
 * the count unchanged since the batch was sent.
 *
 * @module
 */

import type { DocumentBatch } from "../archive/documents.ts";

/**
 * Bytes of documents acknowledged but not yet durable, per table, before a checkpoint: they are
 * held in memory until it completes, and a `sync()` per this many bytes costs the server little.
 */
export const CHECKPOINT_BYTES = 16 * 1024 * 1024;

/**
 * Bytes of a table's documents held for durability (acknowledged and kept until a checkpoint)
 * and in flight together, at most, before the next batch waits for a checkpoint: with
 * documents of tens of megabytes, a batch kept while the next is sent would be one more document
 * in memory.
 */
export const MAX_NOT_DURABLE_BYTES = 32 * 1024 * 1024;

interface Acknowledged {
  batch: DocumentBatch;
  /** The pool's failure count when the batch was sent. */
  failures: number;
  /** Order of acknowledgement. */
  seq: number;
}

/**
 * The batches of one table acknowledged since its last checkpoint.
 *
 * @example
 * ```ts
 * import { DurableBatches } from "./checkpoint.ts";
 *
 * const log = new DurableBatches();
 * log.acknowledged(batch, 0); // sent while the pool had seen no failure
 * const token = log.begin(); // then `table.sync()`
 * log.complete(token, 0); // batch.count: durable, no failure since it was sent
 * ```
 */
export class DurableBatches {
  #acked: Acknowledged[] = [];
  #bytes = 0;
  #seq = 0;
  readonly #threshold: number;

  /** `threshold`: bytes acknowledged that make a checkpoint due. */
  constructor(threshold: number = CHECKPOINT_BYTES) {
    this.#threshold = threshold;
  }

  /** Records a batch the server acknowledged; `failures` is the pool's count when it was sent. */
  acknowledged(batch: DocumentBatch, failures: number): void {
    this.#acked.push({ batch, failures, seq: ++this.#seq });
    this.#bytes += batch.bytes;
  }

  /** True when enough is acknowledged and not durable to make a checkpoint worth it. */
  get due(): boolean {
    return this.#bytes >= this.#threshold;
  }

  /** Batches acknowledged and not yet durable. */
  get pending(): number {
    return this.#acked.length;
  }

  /** Bytes of the batches acknowledged and not yet durable: what they hold in memory. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Marks the start of a checkpoint (before `sync()` is sent); pass the token to {@link complete}. */
  begin(): number {
    return this.#seq;
  }

  /**
   * The checkpoint begun at `token` is done and the pool has now seen `failures` failures: the
   * batches it covers that were sent since the last failure are durable. Returns their document
   * count.
   */
  complete(token: number, failures: number): number {
    let documents = 0;
    this.#acked = this.#acked.filter((entry) => {
      if (entry.seq > token || entry.failures !== failures) return true;
      documents += entry.batch.count;
      this.#bytes -= entry.batch.bytes;
      return false;
    });
    return documents;
  }

  /** True when some batch was sent before a failure the pool has seen since (`failures`). */
  hasSuspect(failures: number): boolean {
    return this.#acked.some((entry) => entry.failures !== failures);
  }

  /**
   * Takes the batches that a failure since they were sent may have lost (the pool has now seen
   * `failures`), to be sent again; they are acknowledged anew when they are.
   */
  takeSuspect(failures: number): DocumentBatch[] {
    const suspect: DocumentBatch[] = [];
    this.#acked = this.#acked.filter((entry) => {
      if (entry.failures === failures) return true;
      suspect.push(entry.batch);
      this.#bytes -= entry.batch.bytes;
      return false;
    });
    return suspect;
  }
}
