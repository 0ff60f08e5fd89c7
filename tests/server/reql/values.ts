/**
 * Runtime values of the evaluator: datums plus the non-datum things a term can evaluate to
 * (database, table, table slice, stream, single-document selection, function).
 *
 * Documents read from a table travel as {@link RawDoc} (their stored JSON text) so that plain
 * reads never parse or re-serialise them.
 *
 * @module
 */

import { Bound, type Datum, datumTypeName } from "./datum.ts";
import type { Table } from "../store/table.ts";
import type { SystemTable } from "./system_tables.ts";

/** A stored document, as its JSON text; parsed on first use. */
export class RawDoc {
  #value: Datum | undefined;
  constructor(readonly json: string) {}
  /** The parsed document. Callers must not mutate it. */
  get value(): Datum {
    return this.#value ??= JSON.parse(this.json) as Datum;
  }
}

/** One element of a stream. */
export type Item = Datum | RawDoc;

/** `r.db(name)`. */
export class DbValue {
  constructor(readonly name: string) {}
}

/** `r.table(name)`: a user table or a table of the `rethinkdb` system database. */
export class TableValue {
  constructor(
    readonly dbName: string,
    readonly name: string,
    readonly table: Table | SystemTable,
  ) {}
  /** The user table, or undefined for a system table. */
  get user(): Table | undefined {
    return "docs" in this.table ? this.table as Table : undefined;
  }
  /** The system table, or undefined for a user table. */
  get system(): SystemTable | undefined {
    return "docs" in this.table ? undefined : this.table as SystemTable;
  }
  /** Primary key name. */
  get primaryKey(): string {
    return this.table.primaryKey;
  }
}

/** A range bound of `between()`. */
export interface RangeBound {
  value: unknown;
  open: boolean;
}

/** `table.between(...)` and/or `table.orderBy({index})`: a range of an index, maybe ordered. */
export class TableSlice {
  constructor(
    readonly source: TableValue,
    readonly index: string,
    readonly lower: RangeBound,
    readonly upper: RangeBound,
    readonly order: "asc" | "desc" | undefined,
  ) {}

  /** The whole index, unordered. */
  static all(source: TableValue, index: string): TableSlice {
    return new TableSlice(
      source,
      index,
      { value: Bound.MIN, open: false },
      { value: Bound.MAX, open: false },
      undefined,
    );
  }
}

/** A lazily produced sequence of items. `next()` returns undefined at the end. */
export interface Stream {
  /** `typeOf()` name: STREAM, SELECTION<STREAM>... */
  readonly typeName: string;
  /** The table the items come from, when they are whole documents of it (for update/delete). */
  readonly source?: TableValue;
  next(): Item | undefined;
}

/** A stream over a JavaScript iterator. */
export class IterStream implements Stream {
  readonly #it: Iterator<Item>;
  constructor(it: Iterable<Item>, readonly typeName = "STREAM", readonly source?: TableValue) {
    this.#it = it[Symbol.iterator]();
  }
  next(): Item | undefined {
    const r = this.#it.next();
    return r.done ? undefined : r.value;
  }
}

/** `table.get(key)`: one document (or null) that can still be updated or deleted. */
export class SingleSelection {
  constructor(readonly source: TableValue, readonly key: Datum, readonly doc: Item | null) {}
}

/** A ReQL function: parameter variable ids, wire-form body, captured variables. */
export class FuncValue {
  constructor(
    readonly params: number[],
    readonly body: unknown,
    readonly scope: ReadonlyMap<number, Value>,
  ) {}
}

/** `r.asc(x)` / `r.desc(x)` inside `orderBy`. */
export class OrderSpec {
  constructor(readonly key: Value, readonly direction: "asc" | "desc") {}
}

/** The optional arguments of a table changefeed, checked. */
export interface FeedOptions {
  /** `include_states`: `{"state":…}` items, and the INCLUDES_STATES response note. */
  readonly includeStates: boolean;
  /** `include_types`: a `type` field in every item. */
  readonly includeTypes: boolean;
  /** `include_initial`: the table's documents first. */
  readonly includeInitial: boolean;
  /** `squash`: merge queued changes of one document into one. */
  readonly squash: boolean;
  /** `squash` as a number: how long (ms) a read waits for changes to gather; 0 otherwise. */
  readonly squashMs: number;
  /** `changefeed_queue_size` of the term; undefined: the query's, else 100,000. */
  readonly queueSize: number | undefined;
}

/**
 * `table.changes(...)`: a changefeed for the connection to open. Only valid as a whole query
 * (see `terms/changes.ts`), so no other term ever sees one.
 */
export class FeedValue {
  constructor(readonly table: Table, readonly options: FeedOptions) {}
}

/** Anything a term can evaluate to. */
export type Value =
  | Datum
  | Bound
  | RawDoc
  | DbValue
  | TableValue
  | TableSlice
  | Stream
  | SingleSelection
  | FuncValue
  | OrderSpec
  | FeedValue;

/** True for values that are sequences served through cursors. */
export function isStreamLike(v: unknown): v is TableValue | TableSlice | Stream {
  return v instanceof TableValue || v instanceof TableSlice || isStream(v);
}

/** True for a {@link Stream}. */
export function isStream(v: unknown): v is Stream {
  return typeof v === "object" && v !== null && typeof (v as Stream).next === "function" &&
    "typeName" in (v as object);
}

/** `typeOf()` of any value. */
export function typeName(v: unknown): string {
  if (v instanceof RawDoc) return datumTypeName(v.value);
  if (v instanceof DbValue) return "DB";
  if (v instanceof TableValue) return "TABLE";
  if (v instanceof TableSlice) return "TABLE_SLICE";
  if (v instanceof SingleSelection) return v.doc === null ? "NULL" : "SELECTION<OBJECT>";
  if (v instanceof FuncValue) return "FUNCTION";
  if (v instanceof OrderSpec) return "ORDER_BY";
  if (v instanceof FeedValue) return "STREAM";
  if (isStream(v)) return v.typeName;
  return datumTypeName(v);
}
