/**
 * Terms that store functions: secondary indexes (`indexCreate/Drop/List/Status/Wait/Rename`) and
 * write hooks (`setWriteHook`, `getWriteHook`).
 *
 * A function arrives either as a ReQL function (compiled here into a blob) or as a blob from a
 * dump (kept byte for byte). The `query` text is regenerated from the function in both cases,
 * as RethinkDB does.
 *
 * @module
 */

import { binaryBytes } from "../binary.ts";
import { type Datum, type DatumObject, pseudoType } from "../datum.ts";
import { logicError, ReqlRuntimeError } from "../errors.ts";
import { type Evaluator, type Registry, type TermCall, toDatum } from "../evaluator.ts";
import {
  BlobFormatError,
  type BlobKind,
  defaultIndexBlob,
  type FuncBlob,
  parseFuncBlob,
  wireToInternal,
} from "../func_blob.ts";
import { indexQueryText, writeHookQueryText } from "../js_print.ts";
import { TermType } from "../proto.ts";
import { FuncValue, TableValue, typeName, type Value } from "../values.ts";
import { indexStatus, writeHookDatum } from "../../store/describe.ts";
import { indexDef, type Table } from "../../store/table.ts";

function userTable(call: TermCall, ev: Evaluator): Table {
  const v = ev.arg(call, 0);
  if (!(v instanceof TableValue)) {
    throw logicError(`Expected type TABLE but found ${typeName(v)}.`).at(0);
  }
  const user = v.user;
  if (user === undefined) {
    throw new ReqlRuntimeError(
      "Database `rethinkdb` is special; you can't create secondary indexes on the tables in it.",
    );
  }
  return user;
}

function stringArg(call: TermCall, ev: Evaluator, i: number): string {
  const v = ev.datumArg(call, i);
  if (typeof v !== "string") {
    throw logicError(`Expected type STRING but found ${typeName(v)}.`).at(i);
  }
  return v;
}

/** Compiles a ReQL function value into a blob of the given kind. */
function compile(fn: FuncValue, kind: BlobKind, multi: boolean, geo: boolean): FuncBlob {
  const body = wireToInternal(fn.body, 1);
  const bodyBacktrace = (body as unknown[])[(body as unknown[]).length - 1] as number;
  return { kind, params: [...fn.params], body, bodyBacktrace, multi, geo };
}

/** Decodes a blob passed by a client, with RethinkDB-like errors. */
function decodeBlob(
  value: Datum,
  kind: BlobKind,
  what: string,
): { func: FuncBlob; bytes: Uint8Array } {
  const bytes = binaryBytes(value as { data: string });
  try {
    return { func: parseFuncBlob(bytes, kind), bytes };
  } catch (e) {
    if (!(e instanceof BlobFormatError)) throw e;
    const fn = kind === "index" ? "reql_index" : "reql_write_hook";
    throw logicError(
      `Binary blob passed to ${what} could not be interpreted as a ${fn} function (${e.message}).`,
    );
  }
}

function requireIndex(table: Table, name: string, verb: "does not exist" | "was not found"): void {
  if (!table.indexes.has(name)) {
    throw new ReqlRuntimeError(`Index \`${name}\` ${verb} on table \`${table.qualifiedName}\`.`);
  }
}

function statusList(call: TermCall, ev: Evaluator): Datum[] {
  const table = userTable(call, ev);
  const wanted = ev.allArgs(call, 1).map((v) => String(toDatum(v)));
  for (const name of wanted) requireIndex(table, name, "was not found");
  const names = wanted.length > 0 ? [...new Set(wanted)].sort() : table.indexNames();
  return names.map((name) => indexStatus(table, name));
}

/** Registers the index and write hook terms. */
export function registerFunctions(reg: Registry): void {
  reg.set(TermType.INDEX_CREATE, {
    minArgs: 2,
    maxArgs: 3,
    optargs: ["multi", "geo"],
    run: (call, ev) => {
      const table = userTable(call, ev);
      const name = stringArg(call, ev, 1);
      const multi = ev.optarg(call, "multi") === true;
      const geo = ev.optarg(call, "geo") === true;
      if (name === table.primaryKey) {
        throw new ReqlRuntimeError(
          `Index name conflict: \`${name}\` is the name of the primary key.`,
        );
      }
      if (table.indexes.has(name)) {
        throw new ReqlRuntimeError(
          `Index \`${name}\` already exists on table \`${table.qualifiedName}\`.`,
        );
      }
      let func: FuncBlob;
      let bytes: Uint8Array | undefined;
      if (call.args.length < 3) {
        func = defaultIndexBlob(name, multi, geo);
      } else {
        const fn: Value = ev.arg(call, 2);
        if (fn instanceof FuncValue) {
          func = compile(fn, "index", multi, geo);
        } else {
          const d = toDatum(fn);
          if (pseudoType(d) !== "BINARY") {
            throw logicError(`Expected type FUNCTION but found ${typeName(d)}.`).at(2);
          }
          ({ func, bytes } = decodeBlob(d, "index", "index create"));
        }
      }
      const query = indexQueryText(name, func.params, func.body, func.multi, func.geo);
      table.indexes.set(name, indexDef(name, func, query, bytes));
      return { created: 1 };
    },
  });
  reg.set(TermType.INDEX_DROP, {
    minArgs: 2,
    maxArgs: 2,
    run: (call, ev) => {
      const table = userTable(call, ev);
      const name = stringArg(call, ev, 1);
      requireIndex(table, name, "does not exist");
      table.indexes.delete(name);
      return { dropped: 1 };
    },
  });
  reg.set(TermType.INDEX_LIST, {
    minArgs: 1,
    maxArgs: 1,
    run: (call, ev) => userTable(call, ev).indexNames(),
  });
  reg.set(TermType.INDEX_STATUS, { minArgs: 1, run: statusList });
  reg.set(TermType.INDEX_WAIT, { minArgs: 1, run: statusList });
  reg.set(TermType.INDEX_RENAME, {
    minArgs: 3,
    maxArgs: 3,
    optargs: ["overwrite"],
    run: (call, ev) => {
      const table = userTable(call, ev);
      const from = stringArg(call, ev, 1);
      const to = stringArg(call, ev, 2);
      const overwrite = ev.optarg(call, "overwrite") === true;
      requireIndex(table, from, "does not exist");
      if (from === to) return { renamed: 0 };
      if (table.indexes.has(to) && !overwrite) {
        throw new ReqlRuntimeError(
          `Index \`${to}\` already exists on table \`${table.qualifiedName}\`.`,
        );
      }
      const old = table.indexes.get(from)!;
      const f = old.func;
      table.indexes.delete(from);
      table.indexes.set(
        to,
        indexDef(to, f, indexQueryText(to, f.params, f.body, f.multi, f.geo), old.blob),
      );
      return { renamed: 1 };
    },
  });
  reg.set(TermType.GET_WRITE_HOOK, {
    minArgs: 1,
    maxArgs: 1,
    run: (call, ev) => writeHookDatum(userTable(call, ev)),
  });
  reg.set(TermType.SET_WRITE_HOOK, {
    minArgs: 2,
    maxArgs: 2,
    run: (call, ev) => {
      const table = userTable(call, ev);
      const fn = ev.arg(call, 1);
      if (fn === null) {
        table.writeHook = null;
        return { deleted: 1 };
      }
      let func: FuncBlob;
      let bytes: Uint8Array | undefined;
      if (fn instanceof FuncValue) {
        if (fn.params.length !== 3) {
          throw logicError("Write hook functions must expect 3 arguments.").at(1);
        }
        func = compile(fn, "hook", false, false);
      } else {
        const d = toDatum(fn);
        if (pseudoType(d) !== "BINARY") {
          throw logicError(`Expected type FUNCTION but found ${typeName(d)}.`).at(1);
        }
        ({ func, bytes } = decodeBlob(d, "hook", "setWriteHook"));
      }
      const existed = table.writeHook !== null;
      const def = indexDef("", func, writeHookQueryText(func.params, func.body), bytes);
      table.writeHook = { func: def.func, blob: def.blob, query: def.query };
      return (existed ? { replaced: 1 } : { created: 1 }) as DatumObject;
    },
  });
}
