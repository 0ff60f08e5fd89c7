/**
 * Read terms: get, between, orderBy, limit, count, sum, pluck, filter, map and friends.
 *
 * Arrays in give arrays out (answered as one atom); tables and streams give streams (answered
 * through a cursor), as in RethinkDB.
 *
 * @module
 */

import {
  Bound,
  compareDatum,
  type Datum,
  datumEquals,
  type DatumObject,
  isObject,
} from "../datum.ts";
import { logicError, ReqlRuntimeError } from "../errors.ts";
import { type Ctx, type Evaluator, type Registry, type TermCall, toDatum } from "../evaluator.ts";
import { TermType } from "../proto.ts";
import {
  filterStream,
  indexKeys,
  isSequence,
  itemDatum,
  limitStream,
  mapStream,
  skipStream,
  toArray,
  toStream,
} from "../sequences.ts";
import {
  FuncValue,
  type Item,
  IterStream,
  OrderSpec,
  RawDoc,
  SingleSelection,
  TableSlice,
  TableValue,
  typeName,
  type Value,
} from "../values.ts";

function truthy(v: Datum): boolean {
  return !(v === null || v === false);
}

function tableArg(call: TermCall, ev: Evaluator, what: string): TableValue {
  const v = ev.arg(call, 0);
  if (!(v instanceof TableValue)) {
    throw logicError(`Expected type TABLE but found ${typeName(v)}${what}.`);
  }
  return v;
}

/** `table.get(key)`. */
function getDoc(table: TableValue, key: Datum, ctx: Ctx): SingleSelection {
  if (key === null) {
    throw logicError(
      "Primary keys must be either a number, string, bool, pseudotype or array (got type NULL):\nnull",
    );
  }
  const user = table.user;
  if (user !== undefined) {
    user.checkReadable();
    const entry = user.docs.get(key);
    return new SingleSelection(table, key, entry === undefined ? null : new RawDoc(entry.json));
  }
  const row = table.system!.rows(ctx.store).find((r) => datumEquals(r[table.primaryKey], key));
  return new SingleSelection(table, key, row ?? null);
}

/** Applies a `pluck` selector to an object. */
export function pluckDatum(obj: Datum, selectors: Datum[]): Datum {
  if (!isObject(obj)) {
    throw logicError(
      `Cannot perform pluck on a non-object non-sequence \`${JSON.stringify(obj)}\`.`,
    );
  }
  const out: DatumObject = {};
  const apply = (sel: Datum) => {
    if (typeof sel === "string") {
      if (sel in obj) out[sel] = obj[sel];
    } else if (Array.isArray(sel)) {
      sel.forEach(apply);
    } else if (isObject(sel)) {
      for (const key of Object.keys(sel)) {
        if (!(key in obj)) continue;
        const inner = sel[key];
        if (inner === true) out[key] = obj[key];
        else if (isObject(obj[key]) || Array.isArray(obj[key])) {
          out[key] = Array.isArray(obj[key])
            ? (obj[key] as Datum[]).map((x) => pluckDatum(x, [inner]))
            : pluckDatum(obj[key], [inner]);
        }
      }
    } else {
      throw logicError(`Invalid path argument \`${JSON.stringify(sel)}\`.`);
    }
  };
  selectors.forEach(apply);
  const sorted: DatumObject = {};
  for (const key of Object.keys(out).sort()) sorted[key] = out[key];
  return sorted;
}

function withoutDatum(obj: Datum, fields: Datum[]): Datum {
  if (!isObject(obj)) throw logicError("Cannot perform without on a non-object non-sequence.");
  const drop = new Set(fields.flat().map(String));
  return Object.fromEntries(Object.entries(obj).filter(([k]) => !drop.has(k))) as DatumObject;
}

/** Maps a per-element function over an array (array out) or a stream (stream out). */
function mapSeq(v: Value, ev: Evaluator, ctx: Ctx, f: (d: Datum) => Datum): Value {
  if (Array.isArray(v)) return (v as Datum[]).map(f);
  return mapStream(toStream(v, ev, ctx), (item) => f(itemDatum(item)));
}

function predicate(pred: Value, ev: Evaluator, ctx: Ctx): (d: Datum) => boolean {
  if (pred instanceof FuncValue) return (d) => truthy(ev.callDatum(pred, [d], ctx));
  const spec = toDatum(pred);
  if (isObject(spec)) {
    // filter({field: value}) matches documents containing those fields and values.
    return (d) =>
      isObject(d) && Object.keys(spec).every((k) => k in d && datumEquals(d[k], spec[k]));
  }
  return () => truthy(spec);
}

function sortKeyOf(
  key: Value,
  ev: Evaluator,
  ctx: Ctx,
): { get: (d: Datum) => Datum; desc: boolean } {
  let desc = false;
  let k = key;
  if (k instanceof OrderSpec) {
    desc = k.direction === "desc";
    k = k.key;
  }
  if (k instanceof FuncValue) {
    const fn = k;
    return { get: (d) => ev.callDatum(fn, [d], ctx), desc };
  }
  const field = String(toDatum(k));
  return { get: (d) => (isObject(d) ? d[field] ?? null : null), desc };
}

function numbersOf(items: Datum[], field: Value | undefined, ev: Evaluator, ctx: Ctx): number[] {
  const values = field === undefined
    ? items
    : items.map((d) =>
      field instanceof FuncValue
        ? ev.callDatum(field, [d], ctx)
        : isObject(d)
        ? d[String(toDatum(field))] ?? null
        : null
    );
  return values.filter((v) => v !== null).map((v) => {
    if (typeof v !== "number") throw logicError(`Expected type NUMBER but found ${typeName(v)}.`);
    return v;
  });
}

function indexName(
  v: Value | undefined,
  table: TableValue,
): { name: string; order: "asc" | "desc" } {
  if (v === undefined) return { name: table.primaryKey, order: "asc" };
  if (v instanceof OrderSpec) return { name: String(toDatum(v.key)), order: v.direction };
  return { name: String(toDatum(v)), order: "asc" };
}

/** Registers the read terms. */
export function registerReads(reg: Registry): void {
  reg.set(TermType.GET, {
    minArgs: 2,
    maxArgs: 2,
    run: (call, ev) => getDoc(tableArg(call, ev, ""), ev.datumArg(call, 1), call.ctx),
  });
  reg.set(TermType.GET_ALL, {
    minArgs: 1,
    optargs: ["index"],
    run: (call, ev) => {
      const table = tableArg(call, ev, "");
      const keys = ev.allArgs(call, 1).map(toDatum);
      const { name } = indexName(ev.optargValue(call, "index"), table);
      if (name === table.primaryKey) {
        const docs = keys.map((k) => getDoc(table, k, call.ctx).doc).filter((d) => d !== null);
        return new IterStream(docs as Item[], "SELECTION<STREAM>", table);
      }
      const index = table.user?.indexes.get(name);
      if (index === undefined) {
        throw new ReqlRuntimeError(
          `Index \`${name}\` was not found on table \`${table.dbName}.${table.name}\`.`,
        );
      }
      // Once per (key asked for, matching index entry), as the real server answers.
      const matches: Item[] = [];
      for (const doc of toArray(table, ev, call.ctx)) {
        for (const entry of indexKeys(index, doc, ev, call.ctx)) {
          for (const key of keys) if (datumEquals(entry, key)) matches.push(doc as Item);
        }
      }
      return new IterStream(matches, "SELECTION<STREAM>", table);
    },
  });
  reg.set(TermType.BETWEEN, {
    minArgs: 3,
    maxArgs: 3,
    optargs: ["index", "left_bound", "right_bound"],
    run: (call, ev) => {
      const seq = ev.arg(call, 0);
      // Bounds may be r.minval / r.maxval, which are not datums.
      const lower = ev.arg(call, 1) as unknown;
      const upper = ev.arg(call, 2) as unknown;
      const left = ev.optarg(call, "left_bound") ?? "closed";
      const right = ev.optarg(call, "right_bound") ?? "open";
      for (const [name, b] of [["left_bound", left], ["right_bound", right]] as const) {
        if (b !== "open" && b !== "closed") {
          throw logicError(
            `Expected \`open\` or \`closed\` for optarg \`${name}\` (got \`${
              JSON.stringify(b)
            }\`).`,
          ).at(name);
        }
      }
      const table = seq instanceof TableSlice ? seq.source : seq;
      if (!(table instanceof TableValue)) {
        throw logicError(`Expected type TABLE_SLICE but found ${typeName(seq)}.`).at(0);
      }
      const index = String(ev.optarg(call, "index") ?? table.primaryKey);
      return new TableSlice(
        table,
        index,
        { value: lower, open: left === "open" },
        { value: upper, open: right === "open" },
        seq instanceof TableSlice ? seq.order : undefined,
      );
    },
  });
  reg.set(TermType.ORDER_BY, {
    minArgs: 1,
    optargs: ["index"],
    run: (call, ev) => {
      const seq = ev.arg(call, 0);
      const indexOpt = ev.optargValue(call, "index");
      const keys = ev.allArgs(call, 1);
      let result: Value = seq;
      if (indexOpt !== undefined) {
        const table = seq instanceof TableSlice ? seq.source : seq;
        if (!(table instanceof TableValue)) {
          throw logicError("Indexed order_by can only be performed on a TABLE or TABLE_SLICE.");
        }
        const { name, order } = indexName(indexOpt, table);
        if (seq instanceof TableSlice) {
          if (seq.index !== name) {
            throw logicError(
              `Cannot order by index \`${name}\` after calling BETWEEN on index \`${seq.index}\`.`,
            );
          }
          result = new TableSlice(table, name, seq.lower, seq.upper, order);
        } else {
          result = new TableSlice(
            table,
            name,
            { value: Bound.MIN, open: false },
            { value: Bound.MAX, open: false },
            order,
          );
        }
        if (keys.length === 0) return result;
      }
      if (keys.length === 0) throw logicError("Expected 2 or more arguments but found 1.");
      const sortKeys = keys.map((k) => sortKeyOf(k, ev, call.ctx));
      const items = [...toArray(result, ev, call.ctx)];
      const decorated = items.map((d) => ({ d, k: sortKeys.map((s) => s.get(d)) }));
      decorated.sort((a, b) => {
        for (let i = 0; i < sortKeys.length; i++) {
          const c = compareDatum(a.k[i], b.k[i]);
          if (c !== 0) return sortKeys[i].desc ? -c : c;
        }
        return 0;
      });
      return decorated.map((x) => x.d);
    },
  });
  reg.set(TermType.LIMIT, {
    minArgs: 2,
    maxArgs: 2,
    run: (call, ev) => {
      const seq = ev.arg(call, 0);
      const n = ev.datumArg(call, 1);
      if (typeof n !== "number" || n < 0) throw logicError("LIMIT takes a non-negative argument.");
      if (Array.isArray(seq)) return seq.slice(0, n);
      return limitStream(toStream(seq, ev, call.ctx), n);
    },
  });
  reg.set(TermType.SKIP, {
    minArgs: 2,
    maxArgs: 2,
    run: (call, ev) => {
      const seq = ev.arg(call, 0);
      const n = ev.datumArg(call, 1) as number;
      if (Array.isArray(seq)) return seq.slice(n);
      return skipStream(toStream(seq, ev, call.ctx), n);
    },
  });
  reg.set(TermType.NTH, {
    minArgs: 2,
    maxArgs: 2,
    run: (call, ev) => {
      const items = toArray(ev.arg(call, 0), ev, call.ctx);
      const n = ev.datumArg(call, 1) as number;
      const i = n < 0 ? items.length + n : n;
      if (i < 0 || i >= items.length) {
        throw new ReqlRuntimeError(`Index out of bounds: ${n}`, 3100000);
      }
      return items[i];
    },
  });
  reg.set(TermType.IS_EMPTY, {
    minArgs: 1,
    maxArgs: 1,
    run: (call, ev) => toStream(ev.arg(call, 0), ev, call.ctx).next() === undefined,
  });
  reg.set(TermType.COUNT, {
    minArgs: 1,
    maxArgs: 2,
    run: (call, ev) => {
      const seq = ev.arg(call, 0);
      if (call.args.length === 1) {
        if (seq instanceof TableValue && seq.user !== undefined) {
          seq.user.checkReadable();
          return seq.user.docs.size;
        }
        const d = isSequence(seq) ? undefined : toDatum(seq);
        if (typeof d === "string") return [...d].length;
        if (isObject(d)) return Object.keys(d).length;
        let n = 0;
        const stream = toStream(seq, ev, call.ctx);
        while (stream.next() !== undefined) n++;
        return n;
      }
      const keep = predicate(ev.arg(call, 1), ev, call.ctx);
      return toArray(seq, ev, call.ctx).filter(keep).length;
    },
  });
  reg.set(TermType.SUM, {
    minArgs: 1,
    maxArgs: 2,
    run: (call, ev) => {
      const field = call.args.length > 1 ? ev.arg(call, 1) : undefined;
      return numbersOf(toArray(ev.arg(call, 0), ev, call.ctx), field, ev, call.ctx)
        .reduce((a, b) => a + b, 0);
    },
  });
  reg.set(TermType.AVG, {
    minArgs: 1,
    maxArgs: 2,
    run: (call, ev) => {
      const field = call.args.length > 1 ? ev.arg(call, 1) : undefined;
      const values = numbersOf(toArray(ev.arg(call, 0), ev, call.ctx), field, ev, call.ctx);
      if (values.length === 0) throw logicError("Cannot perform avg on an empty stream.");
      return values.reduce((a, b) => a + b, 0) / values.length;
    },
  });
  for (const type of [TermType.MIN, TermType.MAX]) {
    reg.set(type, {
      minArgs: 1,
      maxArgs: 2,
      optargs: ["index"],
      run: (call, ev) => {
        const items = toArray(ev.arg(call, 0), ev, call.ctx);
        if (items.length === 0) {
          throw logicError(
            `Cannot take the ${type === TermType.MIN ? "min" : "max"} of an empty stream.`,
          );
        }
        const key = call.args.length > 1
          ? sortKeyOf(ev.arg(call, 1), ev, call.ctx).get
          : (d: Datum) => d;
        let best = items[0];
        for (const d of items.slice(1)) {
          const c = compareDatum(key(d), key(best));
          if (type === TermType.MIN ? c < 0 : c > 0) best = d;
        }
        return best;
      },
    });
  }
  reg.set(TermType.PLUCK, {
    minArgs: 1,
    run: (call, ev) => {
      const seq = ev.arg(call, 0);
      const selectors = ev.allArgs(call, 1).map(toDatum);
      if (isSequence(seq)) return mapSeq(seq, ev, call.ctx, (d) => pluckDatum(d, selectors));
      return pluckDatum(toDatum(seq), selectors);
    },
  });
  reg.set(TermType.WITHOUT, {
    minArgs: 1,
    run: (call, ev) => {
      const seq = ev.arg(call, 0);
      const fields = ev.allArgs(call, 1).map(toDatum);
      if (isSequence(seq)) return mapSeq(seq, ev, call.ctx, (d) => withoutDatum(d, fields));
      return withoutDatum(toDatum(seq), fields);
    },
  });
  reg.set(TermType.FILTER, {
    minArgs: 2,
    maxArgs: 2,
    optargs: ["default"],
    run: (call, ev) => {
      const seq = ev.arg(call, 0);
      const keep = predicate(ev.arg(call, 1), ev, call.ctx);
      if (Array.isArray(seq)) return (seq as Datum[]).filter(keep);
      return filterStream(toStream(seq, ev, call.ctx), (item) => keep(itemDatum(item)));
    },
  });
  reg.set(TermType.MAP, {
    minArgs: 2,
    run: (call, ev) => {
      const seq = ev.arg(call, 0);
      const fn = ev.arg(call, call.args.length - 1);
      return mapSeq(seq, ev, call.ctx, (d) => ev.callDatum(fn, [d], call.ctx));
    },
  });
  reg.set(TermType.CONCAT_MAP, {
    minArgs: 2,
    maxArgs: 2,
    run: (call, ev) => {
      const seq = ev.arg(call, 0);
      const fn = ev.arg(call, 1);
      const out: Datum[] = [];
      for (const d of toArray(seq, ev, call.ctx)) {
        out.push(...toArray(ev.call(fn, [d], call.ctx), ev, call.ctx));
      }
      return Array.isArray(seq) ? out : new IterStream(out);
    },
  });
  reg.set(TermType.DISTINCT, {
    minArgs: 1,
    maxArgs: 1,
    optargs: ["index"],
    run: (call, ev) => {
      const items = [...toArray(ev.arg(call, 0), ev, call.ctx)].sort(compareDatum);
      return items.filter((d, i) => i === 0 || !datumEquals(d, items[i - 1]));
    },
  });
  reg.set(TermType.UNION, {
    optargs: ["interleave"],
    run: (call, ev) => {
      const seqs = ev.allArgs(call);
      if (seqs.every(Array.isArray)) return (seqs as Datum[][]).flat(1);
      return new IterStream(seqs.flatMap((s) => toArray(s, ev, call.ctx)));
    },
  });
  reg.set(TermType.SLICE, {
    minArgs: 2,
    maxArgs: 3,
    optargs: ["left_bound", "right_bound"],
    run: (call, ev) => {
      const seq = ev.arg(call, 0);
      const from = ev.datumArg(call, 1) as number;
      const to = call.args.length > 2 ? ev.datumArg(call, 2) as number : undefined;
      const items = toArray(seq, ev, call.ctx).slice(from, to);
      return Array.isArray(seq) ? items : new IterStream(items);
    },
  });
}
