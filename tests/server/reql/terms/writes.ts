/**
 * Write terms: `insert` (conflict error/replace/update/function, durability, return_changes,
 * ignore_write_hook), `update`, `delete` and `forEach`.
 *
 * Documents are stored as canonical JSON text. When a table has a write hook and the write does
 * not pass `ignore_write_hook: true`, the hook runs on each written document, as in RethinkDB:
 * `hook({primary_key, timestamp}, old_val, new_val)` gives the document actually stored.
 *
 * Durability matters for a simulated restart (`faults.restart()`): a change made with soft
 * durability (the write's `durability` optarg, else the query's, else the table's default) since
 * the table's last `sync()` is undone by it. While a table is not ready after a restart, inserts
 * and writes to `get(key)` fail with the write error; other updates and deletes read their
 * selection first and fail with the read error, as on the real server.
 *
 * @module
 */

import {
  canonical,
  type Datum,
  datumEquals,
  type DatumObject,
  datumToJson,
  isObject,
} from "../datum.ts";
import { logicError, ReqlError, ReqlRuntimeError } from "../errors.ts";
import { type Ctx, type Evaluator, type Registry, type TermCall, toDatum } from "../evaluator.ts";
import { internalToWire } from "../func_blob.ts";
import { prettyDatum } from "../pretty_datum.ts";
import { TermType } from "../proto.ts";
import { itemDatum, toArray, toStream } from "../sequences.ts";
import {
  FuncValue,
  isStream,
  RawDoc,
  SingleSelection,
  TableSlice,
  TableValue,
  typeName,
  type Value,
} from "../values.ts";
import { mergeDatum } from "./basic.ts";
import type { Entry } from "../../store/doc_store.ts";
import type { Table } from "../../store/table.ts";

type Durability = "hard" | "soft";

const WRITE_OPTARGS = ["durability", "return_changes", "ignore_write_hook"];

/** The counters of a write result. */
class WriteResult {
  deleted = 0;
  errors = 0;
  inserted = 0;
  replaced = 0;
  skipped = 0;
  unchanged = 0;
  firstError: string | undefined;
  generatedKeys: Datum[] = [];
  changes: DatumObject[] | undefined;

  constructor(returnChanges: boolean) {
    if (returnChanges) this.changes = [];
  }

  error(message: string): void {
    this.errors++;
    this.firstError ??= message;
  }

  change(oldVal: Datum, newVal: Datum): void {
    this.changes?.push({ new_val: newVal, old_val: oldVal });
  }

  toDatum(): DatumObject {
    const out: DatumObject = {
      deleted: this.deleted,
      errors: this.errors,
      inserted: this.inserted,
      replaced: this.replaced,
      skipped: this.skipped,
      unchanged: this.unchanged,
    };
    if (this.firstError !== undefined) out.first_error = this.firstError;
    if (this.generatedKeys.length > 0) out.generated_keys = this.generatedKeys;
    if (this.changes !== undefined) out.changes = this.changes;
    return out;
  }
}

/**
 * The durability a write asked for: its `durability` optarg, else the query's global one, else
 * undefined (the table's default applies, see {@link commit}).
 */
function writeDurability(call: TermCall, ev: Evaluator): Durability | undefined {
  const durability = ev.optarg(call, "durability");
  if (durability !== undefined && durability !== "hard" && durability !== "soft") {
    throw logicError(
      `Durability option \`${String(durability)}\` unrecognized (options are "hard" and "soft").`,
    ).at("durability");
  }
  return durability ?? call.ctx.durability;
}

/**
 * A write to `table.get(key)` goes straight to the table's primary replica, without reading the
 * document first: while the table is not ready (after a simulated restart) it fails with the write
 * error. Writes to other selections read them first, so they fail with the read error.
 */
function checkPointWrite(call: TermCall, ev: Evaluator): void {
  const target = call.args[0];
  if (!Array.isArray(target) || target[0] !== TermType.GET || !Array.isArray(target[1])) return;
  let table: Value;
  try {
    table = ev.eval(target[1][0], call.ctx);
  } catch {
    return; // the error comes again, with its frames, when the selection is evaluated
  }
  if (table instanceof TableValue) table.user?.checkWritable();
}

const hookBodies = new WeakMap<object, unknown>();

/** Runs the table's write hook on a document about to be written (unless disabled). */
function applyHook(
  table: Table,
  key: Datum,
  oldVal: Datum,
  newVal: Datum,
  ev: Evaluator,
  ctx: Ctx,
): Datum {
  const hook = table.writeHook;
  if (hook === null) return newVal;
  let body = hookBodies.get(hook.func);
  if (body === undefined) {
    body = internalToWire(hook.func.body);
    hookBodies.set(hook.func, body);
  }
  const args: Datum[] = [{ primary_key: key, timestamp: ctx.now }, oldVal, newVal];
  const scope = new Map(ctx.scope);
  hook.func.params.forEach((id, i) => scope.set(id, args[i]));
  return toDatum(ev.eval(body, { ...ctx, scope }));
}

/**
 * Stores `newVal` for `key` (or deletes it when null) and counts the outcome. A change written
 * with soft durability (asked for, or the table's default) is journaled: a simulated restart
 * undoes it unless `sync()` came first. Every real change reaches the table's changefeeds; an
 * unchanged document does not, as on the real server.
 */
function commit(
  table: Table,
  key: Datum,
  old: Entry | undefined,
  oldVal: Datum,
  newVal: Datum,
  result: WriteResult,
  durability: Durability | undefined,
): void {
  const oldJson = old?.json;
  if (newVal === null) {
    if (oldJson === undefined) {
      result.skipped++;
    } else {
      table.softWrites.record(key, old, durability ?? table.durability);
      table.docs.delete(key);
      table.changed(key, oldJson, undefined);
      result.deleted++;
      result.change(oldVal, null);
    }
    return;
  }
  if (!isObject(newVal)) {
    result.error(`Expected type OBJECT but found ${typeName(newVal)}.`);
    return;
  }
  if (!datumEquals(newVal[table.primaryKey], key)) {
    result.error(
      `Primary key \`${table.primaryKey}\` cannot be changed (\`${JSON.stringify(oldVal)}\` -> \`${
        JSON.stringify(newVal)
      }\`).`,
    );
    return;
  }
  const json = datumToJson(newVal);
  if (json === oldJson) {
    result.unchanged++;
    result.change(oldVal, oldVal);
    return;
  }
  table.softWrites.record(key, old, durability ?? table.durability);
  table.docs.put({ key, json });
  table.changed(key, oldJson, json);
  if (oldJson === undefined) result.inserted++;
  else result.replaced++;
  result.change(oldVal, newVal);
}

function checkKey(key: Datum, pk: string): string | undefined {
  if (key === null) return `Primary key \`${pk}\` cannot be null.`;
  if (isObject(key) && key.$reql_type$ === undefined) {
    return `Primary key \`${pk}\` cannot be an object.`;
  }
  return undefined;
}

function insertInto(
  table: Table,
  docs: Datum[],
  call: TermCall,
  ev: Evaluator,
  durability: Durability | undefined,
): DatumObject {
  const ctx = call.ctx;
  const conflict = ev.optargValue(call, "conflict") ?? "error";
  if (
    !(conflict instanceof FuncValue) && !["error", "replace", "update"].includes(String(conflict))
  ) {
    throw logicError(
      `Conflict option \`${
        String(conflict)
      }\` unrecognized (options are "error", "replace" and "update").`,
    ).at("conflict");
  }
  const ignoreHook = ev.optarg(call, "ignore_write_hook") === true;
  const result = new WriteResult(ev.optarg(call, "return_changes") === true);
  const pk = table.primaryKey;
  for (const raw of docs) {
    if (!isObject(raw)) {
      result.error(`Expected type OBJECT but found ${typeName(raw)}.`);
      continue;
    }
    let doc = canonical(raw) as DatumObject;
    let key = doc[pk];
    if (key === undefined) {
      key = crypto.randomUUID();
      doc = canonical({ ...doc, [pk]: key }) as DatumObject;
      result.generatedKeys.push(key);
    }
    const keyError = checkKey(key, pk);
    if (keyError !== undefined) {
      result.error(keyError);
      continue;
    }
    const old = table.docs.get(key);
    const oldVal: Datum = old === undefined ? null : JSON.parse(old.json);
    let newVal: Datum = doc;
    try {
      if (old !== undefined) {
        if (conflict instanceof FuncValue) {
          newVal = ev.callDatum(conflict, [key, oldVal, doc], ctx);
        } else if (conflict === "update") {
          newVal = mergeDatum(oldVal, doc);
        } else if (conflict === "error") {
          result.error(
            `Duplicate primary key \`${pk}\`:\n${prettyDatum(oldVal)}\n${prettyDatum(doc)}`,
          );
          continue;
        }
      }
      if (!ignoreHook) newVal = applyHook(table, key, oldVal, newVal, ev, ctx);
    } catch (e) {
      if (!(e instanceof ReqlError)) throw e;
      result.error(e.message);
      continue;
    }
    commit(table, key, old, oldVal, newVal, result, durability);
  }
  return result.toDatum();
}

/** The documents (with their table) a selection refers to. */
function selected(
  target: Value,
  ev: Evaluator,
  ctx: Ctx,
): { source: TableValue; docs: (Datum | null)[]; single: boolean } {
  if (target instanceof SingleSelection) {
    const doc = target.doc === null ? null : itemDatum(target.doc);
    return { source: target.source, docs: [doc], single: true };
  }
  const source = target instanceof TableValue
    ? target
    : target instanceof TableSlice
    ? target.source
    : isStream(target)
    ? target.source
    : undefined;
  if (source === undefined) {
    throw logicError(`Expected type SELECTION but found ${typeName(target)}.`);
  }
  const stream = toStream(target, ev, ctx);
  const docs: Datum[] = [];
  for (let item = stream.next(); item !== undefined; item = stream.next()) {
    docs.push(item instanceof RawDoc ? item.value : item);
  }
  return { source, docs, single: false };
}

/** Registers the write terms. */
export function registerWrites(reg: Registry): void {
  reg.set(TermType.INSERT, {
    minArgs: 2,
    maxArgs: 2,
    optargs: [...WRITE_OPTARGS, "conflict"],
    run: (call, ev) => {
      const target = ev.arg(call, 0);
      if (!(target instanceof TableValue)) {
        throw logicError(`Expected type TABLE but found ${typeName(target)}.`).at(0);
      }
      const durability = writeDurability(call, ev);
      const value = ev.arg(call, 1);
      const docs = Array.isArray(value) || isStream(value)
        ? toArray(value, ev, call.ctx)
        : [toDatum(value)];
      const user = target.user;
      if (user !== undefined) {
        user.checkWritable();
        return insertInto(user, docs, call, ev, durability);
      }
      if (target.name === "users") return insertUsers(docs, call);
      throw new ReqlRuntimeError(
        `It's illegal to write to the \`rethinkdb.${target.name}\` table.`,
      );
    },
  });
  reg.set(TermType.UPDATE, {
    minArgs: 2,
    maxArgs: 2,
    optargs: [...WRITE_OPTARGS, "non_atomic"],
    run: (call, ev) => {
      const durability = writeDurability(call, ev);
      checkPointWrite(call, ev);
      const { source, docs } = selected(ev.arg(call, 0), ev, call.ctx);
      const patchValue = ev.arg(call, 1);
      const ignoreHook = ev.optarg(call, "ignore_write_hook") === true;
      const result = new WriteResult(ev.optarg(call, "return_changes") === true);
      for (const doc of docs) {
        if (doc === null) {
          result.skipped++;
          continue;
        }
        try {
          const patch = patchValue instanceof FuncValue
            ? ev.callDatum(patchValue, [doc], call.ctx)
            : toDatum(patchValue);
          const key = (doc as DatumObject)[source.primaryKey];
          const user = source.user;
          if (user === undefined) {
            const changed = source.system?.update?.(call.ctx.store, key, patch as DatumObject);
            if (changed === undefined) {
              throw new ReqlRuntimeError(
                `It's illegal to write to the \`rethinkdb.${source.name}\` table.`,
              );
            }
            if (changed) result.replaced++;
            else result.unchanged++;
            continue;
          }
          let newVal = mergeDatum(doc, patch);
          if (!ignoreHook) newVal = applyHook(user, key, doc, newVal, ev, call.ctx);
          commit(user, key, user.docs.get(key), doc, newVal, result, durability);
        } catch (e) {
          if (!(e instanceof ReqlError)) throw e;
          result.error(e.message);
        }
      }
      return result.toDatum();
    },
  });
  reg.set(TermType.DELETE, {
    minArgs: 1,
    maxArgs: 1,
    optargs: WRITE_OPTARGS,
    run: (call, ev) => {
      const durability = writeDurability(call, ev);
      checkPointWrite(call, ev);
      const { source, docs } = selected(ev.arg(call, 0), ev, call.ctx);
      const user = source.user;
      if (user === undefined) {
        throw new ReqlRuntimeError(
          `It's illegal to write to the \`rethinkdb.${source.name}\` table.`,
        );
      }
      const ignoreHook = ev.optarg(call, "ignore_write_hook") === true;
      const result = new WriteResult(ev.optarg(call, "return_changes") === true);
      for (const doc of docs) {
        if (doc === null) {
          result.skipped++;
          continue;
        }
        const key = (doc as DatumObject)[user.primaryKey];
        try {
          const newVal = ignoreHook ? null : applyHook(user, key, doc, null, ev, call.ctx);
          commit(user, key, user.docs.get(key), doc, newVal, result, durability);
        } catch (e) {
          if (!(e instanceof ReqlError)) throw e;
          result.error(e.message);
        }
      }
      return result.toDatum();
    },
  });
  reg.set(TermType.FOR_EACH, {
    minArgs: 2,
    maxArgs: 2,
    run: (call, ev) => {
      const items = toArray(ev.arg(call, 0), ev, call.ctx);
      const fn = ev.arg(call, 1);
      let stats: DatumObject = {};
      for (const item of items) {
        const out = ev.callDatum(fn, [item], call.ctx);
        for (const part of Array.isArray(out) ? out : [out]) {
          if (!isObject(part)) {
            throw logicError("FOR_EACH expects one or more basic write queries.");
          }
          stats = mergeStats(stats, part);
        }
      }
      return stats;
    },
  });
}

/** Combines write results the way `forEach` does: numbers add up, arrays concatenate. */
function mergeStats(a: DatumObject, b: DatumObject): DatumObject {
  const out: DatumObject = { ...a };
  for (const [key, value] of Object.entries(b)) {
    const prev = out[key];
    if (typeof prev === "number" && typeof value === "number") out[key] = prev + value;
    else if (Array.isArray(prev) && Array.isArray(value)) out[key] = [...prev, ...value];
    else if (prev === undefined) out[key] = value;
  }
  return out;
}

function insertUsers(docs: Datum[], call: TermCall): DatumObject {
  const result = new WriteResult(false);
  const users = call.ctx.store.users;
  for (const doc of docs) {
    if (!isObject(doc) || typeof doc.id !== "string") {
      result.error("Expected a user name in `id`.");
      continue;
    }
    if (users.get(doc.id) !== undefined) {
      result.error(`User \`${doc.id}\` already exists.`);
      continue;
    }
    users.setPassword(doc.id, typeof doc.password === "string" ? doc.password : null);
    result.inserted++;
  }
  return result.toDatum();
}
