/**
 * Cursor batches. A stream result is answered in batches: `t:3` (partial) while more remains,
 * `t:2` with the last one. Batch size follows RethinkDB's rules: at most `max_batch_rows` rows
 * (default unlimited) and about `max_batch_bytes` bytes (default 1 MB), the first batch being
 * scaled down by `first_batch_scaledown_factor` (default 4) so clients see data quickly.
 *
 * Sizes are measured on the JSON text (the real server measures its internal encoding, so its
 * batch boundaries differ slightly).
 *
 * @module
 */

import { datumToJson } from "../reql/datum.ts";
import { type Item, RawDoc, type Stream } from "../reql/values.ts";

/** Batch limits from a query's global optional arguments. */
export interface BatchLimits {
  maxRows: number;
  maxBytes: number;
  firstScaledown: number;
}

/** Reads the batch limits out of global optional arguments. */
export function batchLimits(optargs: Record<string, unknown>): BatchLimits {
  const num = (v: unknown, d: number) => (typeof v === "number" && v > 0 ? v : d);
  return {
    maxRows: num(optargs.max_batch_rows, Infinity),
    maxBytes: num(optargs.max_batch_bytes, 1024 * 1024),
    firstScaledown: num(optargs.first_batch_scaledown_factor, 4),
  };
}

/** JSON text of a stream item (stored documents are sent as stored). */
export function itemJson(item: Item): string {
  return item instanceof RawDoc ? item.json : datumToJson(item);
}

/** An open cursor: a stream plus one item of look-ahead to know when it is exhausted. */
export class Cursor {
  #peeked: Item | undefined;
  #first = true;

  constructor(private readonly stream: Stream, private readonly limits: BatchLimits) {}

  /** The next batch as JSON texts, and whether the stream is finished after it. */
  nextBatch(): { items: string[]; done: boolean } {
    const { maxRows } = this.limits;
    const maxBytes = this.#first
      ? Math.max(1, this.limits.maxBytes / this.limits.firstScaledown)
      : this.limits.maxBytes;
    this.#first = false;
    const items: string[] = [];
    let bytes = 0;
    while (items.length < maxRows && bytes < maxBytes) {
      const item = this.#take();
      if (item === undefined) return { items, done: true };
      const json = itemJson(item);
      items.push(json);
      bytes += json.length;
    }
    this.#peeked = this.stream.next();
    return { items, done: this.#peeked === undefined };
  }

  #take(): Item | undefined {
    if (this.#peeked !== undefined) {
      const item = this.#peeked;
      this.#peeked = undefined;
      return item;
    }
    return this.stream.next();
  }
}
