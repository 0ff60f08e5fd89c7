/**
 * Databases and tables: configuration, secondary index definitions, write hook and documents.
 *
 * @module
 */

import { type FuncBlob, serializeFuncBlob } from "../reql/func_blob.ts";
import { DocStore } from "./doc_store.ts";

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
  durability: "hard" | "soft" = "hard";
  writeAcks: "majority" | "single" = "majority";

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

  /** Index names in RethinkDB's (sorted) order. */
  indexNames(): string[] {
    return [...this.indexes.keys()].sort();
  }
}
