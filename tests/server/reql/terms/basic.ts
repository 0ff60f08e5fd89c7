/**
 * Value terms: literals, variables and functions, control flow, comparison, arithmetic, type
 * inspection, JSON and BINARY construction.
 *
 * @module
 */

import { binaryDatum } from "../binary.ts";
import {
  Bound,
  compareDatum,
  type Datum,
  datumEquals,
  type DatumObject,
  isObject,
  parseJsonText,
  pseudoType,
} from "../datum.ts";
import { ErrorType, TermType } from "../proto.ts";
import { logicError, missingError, ReqlRuntimeError } from "../errors.ts";
import { type Ctx, type Evaluator, type Registry, toDatum } from "../evaluator.ts";
import { prettyDatum } from "../pretty_datum.ts";
import { dbInfo, tableInfo } from "../../store/describe.ts";
import { DbValue, FuncValue, OrderSpec, TableValue, typeName, type Value } from "../values.ts";
import { filterStream, isSequence, itemDatum, mapStream, toArray, toStream } from "../sequences.ts";

function num(v: Datum, what = "NUMBER"): number {
  if (typeof v !== "number") {
    throw logicError(`Expected type ${what} but found ${typeName(v)}.`);
  }
  return v;
}

function truthy(v: Value): boolean {
  return !(v === null || v === false);
}

/** Validates a pseudo-type object built by the client, as RethinkDB does on the way in. */
export function checkPseudo(value: DatumObject): DatumObject {
  const type = pseudoType(value);
  if (type === "BINARY") {
    if (typeof value.data !== "string") {
      throw logicError("Invalid binary pseudotype: lacking `data` key.");
    }
  } else if (type === "TIME") {
    if (typeof value.epoch_time !== "number") {
      throw logicError(
        "pseudo-type `TIME` object " + JSON.stringify(value) +
          " does not have expected field `epoch_time`.",
      );
    }
  }
  return value;
}

function compareChain(type: number, values: Datum[]): boolean {
  for (let i = 1; i < values.length; i++) {
    const c = compareDatum(values[i - 1], values[i]);
    const ok = type === TermType.EQ
      ? c === 0
      : type === TermType.NE
      ? c !== 0
      : type === TermType.LT
      ? c < 0
      : type === TermType.LE
      ? c <= 0
      : type === TermType.GT
      ? c > 0
      : c >= 0;
    if (type === TermType.NE) return ok;
    if (!ok) return false;
  }
  return true;
}

function arith(type: number, values: Datum[]): Datum {
  let acc = values[0];
  for (let i = 1; i < values.length; i++) {
    const v = values[i];
    if (type === TermType.ADD && typeof acc === "string" && typeof v === "string") acc += v;
    else if (type === TermType.ADD && Array.isArray(acc) && Array.isArray(v)) acc = [...acc, ...v];
    else {
      const a = num(acc);
      const b = num(v);
      if ((type === TermType.DIV || type === TermType.MOD) && b === 0) {
        throw logicError("Cannot divide by zero.");
      }
      acc = type === TermType.ADD
        ? a + b
        : type === TermType.SUB
        ? a - b
        : type === TermType.MUL
        ? a * b
        : type === TermType.DIV
        ? a / b
        : a % b;
    }
  }
  return acc;
}

/** Registers the value terms. */
export function registerBasic(reg: Registry): void {
  reg.set(TermType.MAKE_ARRAY, {
    run: (call, ev) => call.args.map((_, i) => ev.datumArg(call, i)),
  });
  reg.set(TermType.MAKE_OBJ, {
    run: (call, ev) => {
      const out: DatumObject = {};
      for (const name of Object.keys(call.optargs).sort()) out[name] = ev.optarg(call, name)!;
      return out;
    },
  });
  reg.set(TermType.VAR, {
    minArgs: 1,
    maxArgs: 1,
    run: (call, ev) => {
      const id = ev.datumArg(call, 0) as number;
      if (!call.ctx.scope.has(id)) throw logicError(`Variable name not found.`);
      return call.ctx.scope.get(id)!;
    },
  });
  reg.set(TermType.IMPLICIT_VAR, {
    maxArgs: 0,
    run: (call) => {
      const implicit = call.ctx.implicit;
      if (implicit.length === 0) {
        throw logicError("r.row is not defined in this context.");
      }
      return implicit[implicit.length - 1];
    },
  });
  reg.set(TermType.FUNC, {
    minArgs: 2,
    maxArgs: 2,
    run: (call, ev) => {
      const params = ev.datumArg(call, 0);
      if (!Array.isArray(params)) throw logicError("Expected type ARRAY.");
      return new FuncValue(params as number[], call.args[1], call.ctx.scope);
    },
  });
  reg.set(TermType.FUNCALL, {
    minArgs: 1,
    run: (call, ev) => {
      const fn = ev.arg(call, 0);
      const args = ev.allArgs(call, 1);
      return ev.call(fn, args, call.ctx);
    },
  });
  reg.set(TermType.BRANCH, {
    minArgs: 3,
    run: (call, ev) => {
      const n = call.args.length;
      if (n % 2 === 0) throw logicError("Cannot call `branch` with an even number of arguments.");
      for (let i = 0; i + 1 < n; i += 2) {
        if (truthy(ev.arg(call, i))) return ev.arg(call, i + 1);
      }
      return ev.arg(call, n - 1);
    },
  });
  reg.set(TermType.OR, {
    run: (call, ev) => {
      let last: Value = false;
      for (let i = 0; i < call.args.length; i++) {
        last = ev.arg(call, i);
        if (truthy(last)) return last;
      }
      return last;
    },
  });
  reg.set(TermType.AND, {
    run: (call, ev) => {
      let last: Value = true;
      for (let i = 0; i < call.args.length; i++) {
        last = ev.arg(call, i);
        if (!truthy(last)) return last;
      }
      return last;
    },
  });
  reg.set(TermType.NOT, {
    minArgs: 1,
    maxArgs: 1,
    run: (call, ev) => !truthy(ev.datumArg(call, 0)),
  });
  for (
    const type of [TermType.EQ, TermType.NE, TermType.LT, TermType.LE, TermType.GT, TermType.GE]
  ) {
    reg.set(type, {
      minArgs: 1,
      run: (call, ev) => compareChain(type, ev.allArgs(call).map(toDatum)),
    });
  }
  for (const type of [TermType.ADD, TermType.SUB, TermType.MUL, TermType.DIV, TermType.MOD]) {
    reg.set(type, { minArgs: 1, run: (call, ev) => arith(type, ev.allArgs(call).map(toDatum)) });
  }
  reg.set(TermType.ERROR, {
    maxArgs: 1,
    run: (call, ev) => {
      const message = call.args.length > 0 ? String(ev.datumArg(call, 0)) : "Empty ERROR term.";
      throw new ReqlRuntimeError(message, ErrorType.USER);
    },
  });
  reg.set(TermType.DEFAULT, {
    minArgs: 2,
    maxArgs: 2,
    run: (call, ev) => {
      let value: Value;
      try {
        value = ev.arg(call, 0);
      } catch (e) {
        if (e instanceof ReqlRuntimeError && e.errorType === ErrorType.NON_EXISTENCE) {
          return ev.call(ev.arg(call, 1), [e.message], call.ctx);
        }
        throw e;
      }
      if (toDatum(value) !== null) return value;
      return ev.call(ev.arg(call, 1), [null], call.ctx);
    },
  });
  reg.set(TermType.MINVAL, { maxArgs: 0, run: () => Bound.MIN });
  reg.set(TermType.MAXVAL, { maxArgs: 0, run: () => Bound.MAX });
  reg.set(TermType.ASC, {
    minArgs: 1,
    maxArgs: 1,
    run: (call, ev) => new OrderSpec(ev.arg(call, 0), "asc"),
  });
  reg.set(TermType.DESC, {
    minArgs: 1,
    maxArgs: 1,
    run: (call, ev) => new OrderSpec(ev.arg(call, 0), "desc"),
  });
  reg.set(TermType.TYPE_OF, {
    minArgs: 1,
    maxArgs: 1,
    run: (call, ev) => typeName(ev.arg(call, 0)),
  });
  reg.set(TermType.INFO, {
    minArgs: 1,
    maxArgs: 1,
    run: (call, ev) => {
      const v = ev.arg(call, 0);
      if (v instanceof TableValue) {
        const user = v.user;
        if (user !== undefined) return tableInfo(user);
        return {
          db: { id: "", name: v.dbName, type: "DB" },
          doc_count_estimates: [],
          id: null,
          indexes: [],
          name: v.name,
          primary_key: v.primaryKey,
          type: "TABLE",
        };
      }
      if (v instanceof DbValue) {
        if (v.name === "rethinkdb") return { id: null, name: v.name, type: "DB" };
        return dbInfo(call.ctx.store.db(v.name));
      }
      const d = toDatum(v);
      return { type: typeName(d), value: JSON.stringify(d) };
    },
  });
  reg.set(TermType.JSON, {
    minArgs: 1,
    maxArgs: 1,
    run: (call, ev) => {
      const text = ev.datumArg(call, 0);
      if (typeof text !== "string") {
        throw logicError(`Expected type STRING but found ${typeName(text)}.`);
      }
      try {
        return parseJsonText(text);
      } catch (e) {
        throw logicError(`Failed to parse "${text}" as JSON: ${(e as Error).message}`);
      }
    },
  });
  reg.set(TermType.TO_JSON_STRING, {
    minArgs: 1,
    maxArgs: 1,
    run: (call, ev) => JSON.stringify(ev.datumArg(call, 0)),
  });
  reg.set(TermType.BINARY, {
    minArgs: 1,
    maxArgs: 1,
    run: (call, ev) => {
      const v = ev.datumArg(call, 0);
      if (typeof v === "string") {
        return binaryDatum(new TextEncoder().encode(v)) as unknown as Datum;
      }
      if (pseudoType(v) === "BINARY") return checkPseudo(v as DatumObject);
      throw logicError(`Expected type STRING but found ${typeName(v)}.`);
    },
  });
  reg.set(TermType.UUID, {
    maxArgs: 1,
    run: () => crypto.randomUUID(),
  });
  reg.set(TermType.NOW, { maxArgs: 0, run: (call) => call.ctx.now });
  reg.set(TermType.COERCE_TO, {
    minArgs: 2,
    maxArgs: 2,
    run: (call, ev) => {
      const v = ev.arg(call, 0);
      const to = String(ev.datumArg(call, 1)).toLowerCase();
      if (to === "array") return toArray(v, ev, call.ctx);
      const d = toDatum(v);
      if (to === "string") return typeof d === "string" ? d : JSON.stringify(d);
      if (to === "number") {
        const n = Number(d);
        if (typeof d !== "number" && (typeof d !== "string" || Number.isNaN(n))) {
          throw logicError(`Could not coerce \`${JSON.stringify(d)}\` to NUMBER.`);
        }
        return n;
      }
      if (to === "object" && Array.isArray(d)) {
        return Object.fromEntries(d as [string, Datum][]) as DatumObject;
      }
      if (to === typeName(d).toLowerCase()) return d;
      throw logicError(`Cannot coerce ${typeName(d)} to ${to.toUpperCase()}.`);
    },
  });
  reg.set(TermType.ARGS, {
    minArgs: 1,
    maxArgs: 1,
    run: (call, ev) => ev.datumArg(call, 0),
  });
  registerObjectTerms(reg);
}

function getField(obj: Datum, key: string): Datum {
  if (!isObject(obj)) {
    throw logicError(
      `Cannot perform get_field on a non-object non-sequence \`${JSON.stringify(obj)}\`.`,
    );
  }
  if (!(key in obj)) {
    throw missingError(`No attribute \`${key}\` in object:\n${prettyDatum(obj)}`);
  }
  return obj[key];
}

/** Object and array terms: field access, pluck, merge, set operations. */
function registerObjectTerms(reg: Registry): void {
  reg.set(TermType.GET_FIELD, {
    minArgs: 2,
    maxArgs: 2,
    run: (call, ev) => {
      const v = ev.arg(call, 0);
      const key = ev.datumArg(call, 1);
      return access(v, key, ev, call.ctx);
    },
  });
  reg.set(TermType.BRACKET, {
    minArgs: 2,
    maxArgs: 2,
    run: (call, ev) => {
      const v = ev.arg(call, 0);
      const key = ev.datumArg(call, 1);
      return access(v, key, ev, call.ctx);
    },
  });
  reg.set(TermType.HAS_FIELDS, {
    minArgs: 1,
    run: (call, ev) => {
      const obj = ev.datumArg(call, 0);
      const fields = ev.allArgs(call, 1).map(toDatum);
      return isObject(obj) && fields.every((f) => typeof f === "string" && f in obj);
    },
  });
  reg.set(TermType.KEYS, {
    minArgs: 1,
    maxArgs: 1,
    run: (call, ev) => Object.keys(asObject(ev.datumArg(call, 0))).sort(),
  });
  reg.set(TermType.VALUES, {
    minArgs: 1,
    maxArgs: 1,
    run: (call, ev) => {
      const obj = asObject(ev.datumArg(call, 0));
      return Object.keys(obj).sort().map((k) => obj[k]);
    },
  });
  reg.set(TermType.OBJECT, {
    run: (call, ev) => {
      const values = ev.allArgs(call).map(toDatum);
      const out: DatumObject = {};
      for (let i = 0; i + 1 < values.length; i += 2) out[String(values[i])] = values[i + 1];
      return out;
    },
  });
  reg.set(TermType.MERGE, {
    minArgs: 1,
    run: (call, ev) => {
      let acc: Datum = ev.datumArg(call, 0);
      for (let i = 1; i < call.args.length; i++) {
        const patch = ev.arg(call, i);
        acc = mergeDatum(
          acc,
          patch instanceof FuncValue ? ev.callDatum(patch, [acc], call.ctx) : toDatum(patch),
        );
      }
      return acc;
    },
  });
  reg.set(TermType.DOWNCASE, {
    minArgs: 1,
    maxArgs: 1,
    run: (call, ev) => str(ev.datumArg(call, 0)).toLowerCase(),
  });
  reg.set(TermType.UPCASE, {
    minArgs: 1,
    maxArgs: 1,
    run: (call, ev) => str(ev.datumArg(call, 0)).toUpperCase(),
  });
  reg.set(TermType.APPEND, {
    minArgs: 2,
    maxArgs: 2,
    run: (call, ev) => [...arr(ev.datumArg(call, 0)), ev.datumArg(call, 1)],
  });
  reg.set(TermType.PREPEND, {
    minArgs: 2,
    maxArgs: 2,
    run: (call, ev) => [ev.datumArg(call, 1), ...arr(ev.datumArg(call, 0))],
  });
  reg.set(TermType.DIFFERENCE, {
    minArgs: 2,
    maxArgs: 2,
    run: (call, ev) => {
      const remove = arr(ev.datumArg(call, 1));
      return arr(ev.datumArg(call, 0)).filter((x) => !remove.some((r) => datumEquals(r, x)));
    },
  });
  reg.set(TermType.SET_DIFFERENCE, {
    minArgs: 2,
    maxArgs: 2,
    run: (call, ev) => {
      const remove = arr(ev.datumArg(call, 1));
      return distinct(
        arr(ev.datumArg(call, 0)).filter((x) => !remove.some((r) => datumEquals(r, x))),
      );
    },
  });
  reg.set(TermType.SET_UNION, {
    minArgs: 2,
    maxArgs: 2,
    run: (call, ev) => distinct([...arr(ev.datumArg(call, 0)), ...arr(ev.datumArg(call, 1))]),
  });
  reg.set(TermType.SET_INTERSECTION, {
    minArgs: 2,
    maxArgs: 2,
    run: (call, ev) => {
      const keep = arr(ev.datumArg(call, 1));
      return distinct(arr(ev.datumArg(call, 0)).filter((x) => keep.some((k) => datumEquals(k, x))));
    },
  });
  reg.set(TermType.SET_INSERT, {
    minArgs: 2,
    maxArgs: 2,
    run: (call, ev) => distinct([...arr(ev.datumArg(call, 0)), ev.datumArg(call, 1)]),
  });
  reg.set(TermType.CONTAINS, {
    minArgs: 1,
    run: (call, ev) => {
      const items = toArray(ev.arg(call, 0), ev, call.ctx);
      for (let i = 1; i < call.args.length; i++) {
        const want = ev.arg(call, i);
        const found = want instanceof FuncValue
          ? items.some((x) => truthy(ev.callDatum(want, [x], call.ctx)))
          : items.some((x) => datumEquals(x, toDatum(want)));
        if (!found) return false;
      }
      return true;
    },
  });
}

function str(v: Datum): string {
  if (typeof v !== "string") throw logicError(`Expected type STRING but found ${typeName(v)}.`);
  return v;
}

function arr(v: Datum): Datum[] {
  if (!Array.isArray(v)) throw logicError(`Expected type ARRAY but found ${typeName(v)}.`);
  return v;
}

function asObject(v: Datum): DatumObject {
  if (!isObject(v)) throw logicError(`Expected type OBJECT but found ${typeName(v)}.`);
  return v;
}

function distinct(values: Datum[]): Datum[] {
  const out: Datum[] = [];
  for (const v of values) if (!out.some((o) => datumEquals(o, v))) out.push(v);
  return out;
}

/** `a.merge(b)`: deep merge of objects; anything else replaces. */
export function mergeDatum(a: Datum, b: Datum): Datum {
  if (!isObject(a) || !isObject(b) || pseudoType(b) !== undefined) return b;
  const out: DatumObject = { ...a };
  for (const key of Object.keys(b)) out[key] = key in a ? mergeDatum(a[key], b[key]) : b[key];
  return out;
}

/** `v(key)`: field of an object, element of an array, or the same over a sequence. */
export function access(
  v: Value,
  key: Datum,
  ev: Evaluator,
  ctx: Ctx,
): Value {
  if (typeof key === "number") {
    if (!Array.isArray(v) && isSequence(v) && Number.isInteger(key) && key >= 0) {
      // Walk only as far as needed (a table may hold a million documents).
      const stream = toStream(v, ev, ctx);
      for (let i = 0, item = stream.next(); item !== undefined; i++, item = stream.next()) {
        if (i === key) return item;
      }
      throw missingError(`Index out of bounds: ${key}`);
    }
    const items = toArray(v, ev, ctx);
    const i = key < 0 ? items.length + key : key;
    if (!Number.isInteger(i) || i < 0 || i >= items.length) {
      throw missingError(`Index out of bounds: ${key}`);
    }
    return items[i];
  }
  if (typeof key !== "string") throw logicError(`Expected type STRING but found ${typeName(key)}.`);
  if (!Array.isArray(v) && isSequence(v)) {
    // seq("field") maps over the sequence, skipping elements without the field.
    const stream = toStream(v, ev, ctx);
    return mapStream(
      filterStream(stream, (item) => {
        const d = itemDatum(item);
        return isObject(d) && key in d;
      }),
      (item) => (itemDatum(item) as DatumObject)[key],
    );
  }
  if (Array.isArray(v)) {
    return v.filter((d) => isObject(d) && key in d).map((d) => (d as DatumObject)[key]);
  }
  return getField(toDatum(v), key);
}
