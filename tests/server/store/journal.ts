/**
 * What a crash of the server loses: the undo journal of a table's soft-durability writes.
 *
 * RethinkDB acknowledges a `durability: "soft"` write before it reaches the disk, so a server
 * killed with SIGKILL comes back without the soft writes made since the table's last `sync()`.
 * The journal keeps, for each primary key written softly since then, its entry as it was before
 * the first such write; {@link SoftWriteJournal.undo} puts those entries back (or deletes the keys
 * that did not exist). A hard write of a key makes that key's current state durable, so it drops
 * the key from the journal; `sync()` makes everything durable and clears it.
 *
 * This is the worst case a test wants: a real server also flushes soft writes on its own (and a
 * hard write flushes the ones before it), so a real crash may lose fewer.
 *
 * @module
 */

import type { Datum } from "../reql/datum.ts";
import type { DocStore, Entry } from "./doc_store.ts";

/**
 * The soft writes of one table since its last `sync()`, as undo records.
 *
 * @example
 * ```ts
 * import { DocStore } from "./doc_store.ts";
 * import { SoftWriteJournal } from "./journal.ts";
 * const docs = new DocStore();
 * const journal = new SoftWriteJournal();
 * journal.record(1, docs.get(1), "soft");
 * docs.put({ key: 1, json: '{"id":1}' });
 * journal.undo(docs); // 1: the document is gone again
 * ```
 */
export class SoftWriteJournal {
  // Per key type, as in the document store: number and string keys need no id string, so a
  // million soft inserts cost one map slot each. Values: the entry before (undefined: absent).
  readonly #numbers = new Map<number, Entry | undefined>();
  readonly #strings = new Map<string, Entry | undefined>();
  readonly #others = new Map<string, { key: Datum; before: Entry | undefined }>();

  /** Number of keys written softly since the last sync. */
  get size(): number {
    return this.#numbers.size + this.#strings.size + this.#others.size;
  }

  /**
   * Notes a write about to change `key`, whose entry is now `before`: a soft write journals the
   * key (unless it already is), a hard one makes the key's new state durable.
   */
  record(key: Datum, before: Entry | undefined, durability: "hard" | "soft"): void {
    if (typeof key === "number" || typeof key === "string") {
      const map = (typeof key === "number" ? this.#numbers : this.#strings) as Map<
        number | string,
        Entry | undefined
      >;
      const k = key === 0 ? 0 : key; // -0 and 0 are one key
      if (durability === "hard") map.delete(k);
      else if (!map.has(k)) map.set(k, before);
      return;
    }
    const id = JSON.stringify(key);
    if (durability === "hard") this.#others.delete(id);
    else if (!this.#others.has(id)) this.#others.set(id, { key, before });
  }

  /** Makes every write so far durable (`table.sync()`). */
  clear(): void {
    this.#numbers.clear();
    this.#strings.clear();
    this.#others.clear();
  }

  /**
   * Rolls `docs` back to their durable state and clears the journal. Returns how many documents
   * changed (a key inserted then deleted softly was not changed).
   */
  undo(docs: DocStore): number {
    let changed = 0;
    const restore = (key: Datum, before: Entry | undefined) => {
      const now = docs.get(key);
      if (before === undefined) {
        if (now === undefined) return;
        docs.delete(key);
      } else {
        if (now?.json === before.json) return;
        // A fresh entry: the old object may still be marked as removed in the store's order.
        docs.put({ key: before.key, json: before.json });
      }
      changed++;
    };
    for (const [key, before] of this.#numbers) restore(key, before);
    for (const [key, before] of this.#strings) restore(key, before);
    for (const { key, before } of this.#others.values()) restore(key, before);
    this.clear();
    return changed;
  }
}
