/**
 * Databases and tables: configuration, secondary index definitions, write hook and documents.
 *
 * @module
 */

import type { Datum } from "../reql/datum.ts";
import { ReqlRuntimeError } from "../reql/errors.ts";
import { type FuncBlob, serializeFuncBlob } from "../reql/func_blob.ts";
import { DocStore } from "./doc_store.ts";
import { SoftWriteJournal } from "./journal.ts";

/** A secondary index: its function as RethinkDB stores it (a blob) plus the shown query text. */
export interface IndexDef {
  readonly name: string;
  /** The decoded function blob (kept to evaluate the index and to print it). */
  readonly func: FuncBlob;
  /** The blob bytes, returned unchanged by `indexStatus()`. */
  readonly blob: Uint8Array;
  /** `query` text of `indexStatus()`. */
  readonly query: string;
}

/** A write hook: function blob plus the shown query text. */
export interface WriteHookDef {
  readonly func: FuncBlob;
  readonly blob: Uint8Array;
  readonly query: string;
}

/** Builds an index definition; the blob bytes are given when the client sent them. */
export function indexDef(name: string, func: FuncBlob, query: string, blob?: Uint8Array): IndexDef {
  return { name, func, query, blob: blob ?? serializeFuncBlob(func) };
}

/**
 * Why a query on a table that is not ready fails, as the real server words it for a table of one
 * shard (the range names the first shard that is not available).
 */
const SHARD_NOT_AVAILABLE = 'primary replica for shard ["", +inf) not available';

/**
 * An open changefeed on a whole table, as the table sees it: told of every committed change, in
 * commit order, and of the table's end.
 */
export interface TableFeed {
  /**
   * A document changed. `oldJson`/`newJson` are its stored JSON before and after; undefined
   * before an insert and after a delete. Writes that leave a document as it was are not changes.
   */
  change(key: Datum, oldJson: string | undefined, newJson: string | undefined): void;
  /** The table became unavailable (dropped, or a fault): the feed ends with an error. */
  abort(): void;
  /** Behave as if the reader had fallen behind by more than the queue size (a fault). */
  overflow(): void;
}

/** A database. */
export class Database {
  readonly tables = new Map<string, Table>();
  constructor(readonly id: string, readonly name: string) {}
}

/** A table. */
export class Table {
  readonly docs = new DocStore();
  readonly indexes = new Map<string, IndexDef>();
  writeHook: WriteHookDef | null = null;
  /** Default durability of writes (`tableCreate({durability})`, `table_config`). */
  durability: "hard" | "soft" = "hard";
  writeAcks: "majority" | "single" = "majority";
  /** Soft writes since the last `sync()`: what a simulated restart loses. */
  readonly softWrites = new SoftWriteJournal();
  /**
   * Undefined while the table is ready. After a simulated restart (`faults.restart()`), until its
   * primary replica is back: a promise resolved at that moment; reads and writes of the documents
   * fail meanwhile and `wait()` waits for it.
   */
  notReady: Promise<void> | undefined = undefined;
  /** Open changefeeds on the table, in the order they were opened. */
  readonly feeds = new Set<TableFeed>();

  constructor(
    readonly id: string,
    readonly db: Database,
    readonly name: string,
    readonly primaryKey: string,
    /** Number of shards requested at creation (all on the one server). */
    readonly shards: number,
  ) {}

  /** `db.table` as used in error messages. */
  get qualifiedName(): string {
    return `${this.db.name}.${this.name}`;
  }

  /**
   * Fails as RethinkDB 2.4.4 does when the table's documents are read while it is not ready
   * (OP_FAILED `Cannot perform read: primary replica for shard ["", +inf) not available`).
   */
  checkReadable(): void {
    if (this.notReady !== undefined) {
      throw new ReqlRuntimeError(`Cannot perform read: ${SHARD_NOT_AVAILABLE}`);
    }
  }

  /** Like {@link checkReadable}, for writes and `sync()`: `Cannot perform write: ...`. */
  checkWritable(): void {
    if (this.notReady !== undefined) {
      throw new ReqlRuntimeError(`Cannot perform write: ${SHARD_NOT_AVAILABLE}`);
    }
  }

  /** Tells the table's changefeeds about a committed change (see {@link TableFeed.change}). */
  changed(key: Datum, oldJson: string | undefined, newJson: string | undefined): void {
    for (const feed of this.feeds) feed.change(key, oldJson, newJson);
  }

  /** Ends every changefeed on the table: it was dropped (or is made to look unavailable). */
  abortFeeds(): number {
    const feeds = [...this.feeds];
    for (const feed of feeds) feed.abort();
    return feeds.length;
  }

  /** Index names in RethinkDB's (sorted) order. */
  indexNames(): string[] {
    return [...this.indexes.keys()].sort();
  }
}
