/**
 * Sequences: turning tables, table slices, streams and arrays into item streams, and the scans
 * that read a table in primary-key (or secondary-index) order.
 *
 * Unordered table reads return primary-key order too (the real server's order depends on its
 * internal hash sharding and cannot be reproduced).
 *
 * @module
 */

import { Bound, compareDatum, type Datum, datumTypeName, isObject } from "./datum.ts";
import { DocStore, type Entry } from "../store/doc_store.ts";
import { logicError, ReqlRuntimeError } from "./errors.ts";
import type { Ctx, Evaluator } from "./evaluator.ts";
import { toDatum } from "./evaluator.ts";
import { internalToWire } from "./func_blob.ts";
import {
  isStream,
  type Item,
  IterStream,
  RawDoc,
  type Stream,
  TableSlice,
  TableValue,
  typeName,
  type Value,
} from "./values.ts";
import type { IndexDef } from "../store/table.ts";

/** True for arrays and stream-like values. */
export function isSequence(v: Value): boolean {
  return Array.isArray(v) || v instanceof TableValue || v instanceof TableSlice || isStream(v);
}

/** A stream over any sequence value; fails for non-sequences. */
export function toStream(v: Value, ev: Evaluator, ctx: Ctx): Stream {
  if (v instanceof TableValue) return scanSlice(TableSlice.all(v, v.primaryKey), ev, ctx, "TABLE");
  if (v instanceof TableSlice) return scanSlice(v, ev, ctx, "TABLE_SLICE");
  if (isStream(v)) return v;
  if (Array.isArray(v)) return new IterStream(v as Datum[], "ARRAY");
  throw logicError(`Cannot convert ${typeName(v)} to SEQUENCE`);
}

/** Reads a whole sequence into an array of datums. */
export function toArray(v: Value, ev: Evaluator, ctx: Ctx): Datum[] {
  if (Array.isArray(v)) return v as Datum[];
  const stream = toStream(v, ev, ctx);
  const out: Datum[] = [];
  for (let item = stream.next(); item !== undefined; item = stream.next()) {
    out.push(itemDatum(item));
  }
  return out;
}

/** The datum of a stream item. */
export function itemDatum(item: Item): Datum {
  return item instanceof RawDoc ? item.value : item;
}

function* entriesBetween(
  entries: readonly Entry[],
  slice: TableSlice,
): Generator<Item> {
  const { lower, upper } = slice;
  let from = lower.value instanceof Bound && lower.value === Bound.MIN
    ? 0
    : DocStore.lowerBound(entries, lower.value, lower.open);
  const to = upper.value instanceof Bound && upper.value === Bound.MAX
    ? entries.length
    : DocStore.lowerBound(entries, upper.value, !upper.open);
  if (slice.order === "desc") {
    for (let i = to - 1; i >= from; i--) yield new RawDoc(entries[i].json);
    return;
  }
  for (; from < to; from++) yield new RawDoc(entries[from].json);
}

function inRange(key: unknown, slice: TableSlice): boolean {
  const lo = compareDatum(key, slice.lower.value);
  if (lo < 0 || (lo === 0 && slice.lower.open)) return false;
  const hi = compareDatum(key, slice.upper.value);
  return hi < 0 || (hi === 0 && !slice.upper.open);
}

/** Scans a table slice: primary index from the sorted store, other indexes computed. */
export function scanSlice(slice: TableSlice, ev: Evaluator, ctx: Ctx, type: string): Stream {
  const source = slice.source;
  const user = source.user;
  if (user === undefined) {
    // System tables: compute rows, then filter and sort by primary key.
    let rows: Datum[] = source.system!.rows(ctx.store);
    if (slice.index !== source.primaryKey) {
      throw new ReqlRuntimeError(
        `Index \`${slice.index}\` was not found on table \`${source.dbName}.${source.name}\`.`,
      );
    }
    rows = rows.filter((r) => inRange((r as Record<string, Datum>)[source.primaryKey], slice));
    if (slice.order !== undefined) {
      rows.sort((a, b) =>
        compareDatum(
          (a as Record<string, Datum>)[source.primaryKey],
          (b as Record<string, Datum>)[source.primaryKey],
        )
      );
      if (slice.order === "desc") rows.reverse();
    }
    return new IterStream(rows, type, source);
  }
  user.checkReadable();
  if (slice.index === user.primaryKey) {
    return new IterStream(entriesBetween(user.docs.ordered(), slice), type, source);
  }
  const index = user.indexes.get(slice.index);
  if (index === undefined) {
    throw new ReqlRuntimeError(
      `Index \`${slice.index}\` was not found on table \`${user.qualifiedName}\`.`,
    );
  }
  const keyed: { key: Datum; item: RawDoc }[] = [];
  for (const entry of user.docs.ordered()) {
    const doc = new RawDoc(entry.json);
    for (const key of indexKeys(index, doc.value, ev, ctx)) {
      if (inRange(key, slice)) keyed.push({ key, item: doc });
    }
  }
  if (slice.order !== undefined) {
    keyed.sort((a, b) => compareDatum(a.key, b.key));
    if (slice.order === "desc") keyed.reverse();
  }
  return new IterStream(keyed.map((k) => k.item), type, source);
}

const wireBodies = new WeakMap<object, unknown>();

/** The values a document is indexed under (none when the function fails, as in RethinkDB). */
export function indexKeys(index: IndexDef, doc: Datum, ev: Evaluator, ctx: Ctx): Datum[] {
  let body = wireBodies.get(index.func);
  if (body === undefined) {
    body = internalToWire(index.func.body);
    wireBodies.set(index.func, body);
  }
  let value: Datum;
  try {
    const scope = new Map(ctx.scope);
    index.func.params.forEach((id) => scope.set(id, doc));
    value = toDatum(ev.eval(body, { ...ctx, scope, implicit: [...ctx.implicit, doc] }));
  } catch {
    return [];
  }
  if (value === null || isObject(value) && datumTypeName(value) === "OBJECT") return [];
  // As on a real 2.4.4: a multi index holds one entry per element, duplicates included, so a
  // read through it returns the document once per matching element.
  if (index.func.multi && Array.isArray(value)) return value;
  return [value];
}

/** A stream limited to `n` items. */
export function limitStream(stream: Stream, n: number): Stream {
  let left = n;
  return {
    typeName: stream.source ? "SELECTION<STREAM>" : "STREAM",
    source: stream.source,
    next: () => (left-- > 0 ? stream.next() : undefined),
  };
}

/** A stream that drops its first `n` items. */
export function skipStream(stream: Stream, n: number): Stream {
  let skip = n;
  return {
    typeName: stream.source ? "SELECTION<STREAM>" : "STREAM",
    source: stream.source,
    next: () => {
      while (skip > 0) {
        skip--;
        if (stream.next() === undefined) return undefined;
      }
      return stream.next();
    },
  };
}

/** A stream of `f(item)`. */
export function mapStream(stream: Stream, f: (item: Item) => Item): Stream {
  return {
    typeName: "STREAM",
    next: () => {
      const item = stream.next();
      return item === undefined ? undefined : f(item);
    },
  };
}

/** A stream of the items for which `keep(item)` holds (keeps the selection's source). */
export function filterStream(stream: Stream, keep: (item: Item) => boolean): Stream {
  return {
    typeName: stream.source ? "SELECTION<STREAM>" : "STREAM",
    source: stream.source,
    next: () => {
      for (let item = stream.next(); item !== undefined; item = stream.next()) {
        if (keep(item)) return item;
      }
      return undefined;
    },
  };
}
