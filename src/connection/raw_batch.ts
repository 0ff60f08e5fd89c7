/**
 * A batch of documents exactly as the server sent them: the contract between the transport
 * (which reads response frames) and the dump (which copies document bytes into the archive).
 * Nothing in it is parsed except the resume point.
 *
 * @module
 */

/**
 * The documents of one response frame, untouched.
 *
 * @example
 * ```ts
 * import type { RawBatch } from "./raw_batch.ts";
 *
 * function documentText(batch: RawBatch, i: number): string {
 *   return new TextDecoder().decode(batch.frame.subarray(batch.starts[i], batch.ends[i]));
 * }
 * ```
 */
export interface RawBatch {
  /**
   * The response frame's body (UTF-8 JSON text) as received. Callers must not modify it, and
   * must not read it once they ask for the next batch: its buffer is then reused.
   */
  readonly frame: Uint8Array;
  /**
   * Document `i` is `frame.subarray(starts[i], ends[i])`, for `i < count`. Like the frame, the
   * offsets are reused once the next batch is asked for.
   */
  readonly starts: Uint32Array;
  /** See {@link starts}. */
  readonly ends: Uint32Array;
  /**
   * When the read asked for documents joined (`join` of `readTableRaw`) and the fast scanner
   * took this frame: the documents in order, with the join bytes between each two, so that a
   * consumer copies one buffer instead of one per document. Reused like the frame.
   */
  readonly joined?: Uint8Array;
  /** Documents in the batch (may be 0). */
  readonly count: number;
  /** The primary-key value of the last document, parsed; `undefined` when `count` is 0. */
  readonly lastKey: unknown;
  /**
   * Milliseconds from asking for this batch (the query's start, or its CONTINUE) to its frame's
   * arrival, when the read measured it: the server's round trip, however long the caller held
   * the batch before (what `--backoff` watches).
   */
  readonly roundTripMs?: number;
}
