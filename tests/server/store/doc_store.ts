/**
 * The documents of one table, kept as JSON text keyed by primary key.
 *
 * Built for a million documents: each document is one string plus its key (no parsed objects are
 * kept), point lookups go through hash maps, and the primary-key order is a sorted array that is
 * merged lazily, so a bulk load costs one sort instead of one array shift per insert.
 *
 * @module
 */

import { compareDatum, type Datum } from "../reql/datum.ts";

/** One stored document. Entries are immutable: an update replaces the entry. */
export interface Entry {
  /** The primary key value. */
  readonly key: Datum;
  /** The document as canonical JSON text. */
  readonly json: string;
}

/** A key that identifies a non-number, non-string primary key in a map. */
function otherKeyId(key: Datum): string {
  return JSON.stringify(key);
}

/** Compares entries by primary key in ReQL order. */
export function compareEntries(a: Entry, b: Entry): number {
  return compareDatum(a.key, b.key);
}

/** Documents of one table. */
export class DocStore {
  // Separate maps per key type keep number 1 and string "1" apart without building key strings.
  #numbers = new Map<number, Entry>();
  #strings = new Map<string, Entry>();
  #others = new Map<string, Entry>();
  /** Entries in key order, without the ones in #pending; may contain removed entries. */
  #sorted: Entry[] = [];
  /** Entries added since the last merge, in arrival order. */
  #pending: Entry[] = [];
  /** Replaced or deleted entries still present in #sorted or #pending. */
  #removed = new Set<Entry>();

  /** Number of documents. */
  get size(): number {
    return this.#numbers.size + this.#strings.size + this.#others.size;
  }

  /** The entry with this primary key, if any. */
  get(key: Datum): Entry | undefined {
    if (typeof key === "number") return this.#numbers.get(key === 0 ? 0 : key);
    if (typeof key === "string") return this.#strings.get(key);
    return this.#others.get(otherKeyId(key));
  }

  /** Inserts or replaces the document with `entry.key`. */
  put(entry: Entry): void {
    const old = this.get(entry.key);
    this.#setInMap(entry);
    this.#pending.push(entry);
    // The old entry stays in the arrays until the next merge skips it.
    if (old !== undefined) this.#removed.add(old);
  }

  /** Removes the document with this key; returns the removed entry. */
  delete(key: Datum): Entry | undefined {
    const old = this.get(key);
    if (old === undefined) return undefined;
    if (typeof key === "number") this.#numbers.delete(key === 0 ? 0 : key);
    else if (typeof key === "string") this.#strings.delete(key);
    else this.#others.delete(otherKeyId(key));
    this.#removed.add(old);
    return old;
  }

  /** Removes every document. */
  clear(): void {
    this.#numbers.clear();
    this.#strings.clear();
    this.#others.clear();
    this.#sorted = [];
    this.#pending = [];
    this.#removed.clear();
  }

  /**
   * All entries in primary-key order. The returned array is a snapshot: later inserts build a new
   * array, so a cursor can keep walking it.
   */
  ordered(): readonly Entry[] {
    if (this.#pending.length > 0 || this.#removed.size > 0) this.#merge();
    return this.#sorted;
  }

  /** Index of the first entry whose key is not below `key` (or above it, when `after`). */
  static lowerBound(entries: readonly Entry[], key: unknown, after: boolean): number {
    let lo = 0;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareDatum(entries[mid].key, key);
      if (c < 0 || (after && c === 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #setInMap(entry: Entry): void {
    const key = entry.key;
    if (typeof key === "number") this.#numbers.set(key === 0 ? 0 : key, entry);
    else if (typeof key === "string") this.#strings.set(key, entry);
    else this.#others.set(otherKeyId(key), entry);
  }

  #merge(): void {
    const removed = this.#removed;
    const fresh = removed.size > 0 ? this.#pending.filter((e) => !removed.has(e)) : this.#pending;
    fresh.sort(compareEntries);
    const old = this.#sorted;
    if (old.length === 0) {
      this.#sorted = fresh;
      this.#pending = [];
      this.#removed = new Set();
      return;
    }
    const out: Entry[] = [];
    let i = 0;
    let j = 0;
    while (i < old.length || j < fresh.length) {
      if (i < old.length && removed.has(old[i])) {
        i++;
      } else if (j >= fresh.length || (i < old.length && compareEntries(old[i], fresh[j]) <= 0)) {
        out.push(old[i++]);
      } else {
        out.push(fresh[j++]);
      }
    }
    this.#sorted = out;
    this.#pending = [];
    this.#removed = new Set();
  }
}
