/**
 * The term evaluator. Queries are evaluated straight from their wire JSON (no AST is built, so a
 * large insert costs one walk of its documents):
 *
 * - `null`, booleans, numbers, strings are datums;
 * - a JSON object is an object literal whose values are terms (MAKE_OBJ);
 * - an array is `[termType, args?, optargs?]`.
 *
 * Each term type has a {@link TermSpec} (allowed optional arguments, argument counts, handler)
 * registered by the modules in `terms/`. Errors unwind through {@link Evaluator.arg} and friends,
 * which add the backtrace frames RethinkDB reports in `b`.
 *
 * @module
 */

import { compareStrings, type Datum, type DatumObject } from "./datum.ts";
import { type Frame, logicError, ReqlCompileError, ReqlError, unsupported } from "./errors.ts";
import { TermType, termTypeName } from "./proto.ts";
import {
  FuncValue,
  isStreamLike,
  RawDoc,
  SingleSelection,
  typeName,
  type Value,
} from "./values.ts";
import type { Store } from "../store/store.ts";

/** Per-query evaluation context. */
export interface Ctx {
  readonly store: Store;
  /** The `db` global optional argument (default `test`). */
  readonly defaultDb: string;
  /** Bound variables of the enclosing functions. */
  readonly scope: ReadonlyMap<number, Value>;
  /** Values of `r.row` (IMPLICIT_VAR) in the enclosing one-argument functions. */
  readonly implicit: readonly Value[];
  /** `r.now()` of this query (fixed for the whole query, as in RethinkDB). */
  readonly now: DatumObject;
  /** The query's `durability` global optional argument, the default of its writes. */
  readonly durability?: "hard" | "soft";
}

/** Arguments handed to a term handler: unevaluated wire terms. */
export interface TermCall {
  readonly type: number;
  readonly args: readonly unknown[];
  readonly optargs: Readonly<Record<string, unknown>>;
  readonly ctx: Ctx;
}

/** How one term type is checked and evaluated. */
export interface TermSpec {
  /** Allowed optional argument names. */
  readonly optargs?: readonly string[];
  /** Minimum positional arguments (default 0). */
  readonly minArgs?: number;
  /** Maximum positional arguments (default unlimited). */
  readonly maxArgs?: number;
  /**
   * Set for a term implemented only as the root of a query: anywhere else it fails before the
   * query runs, like an unimplemented term, this text saying what is missing.
   */
  readonly rootOnly?: string;
  readonly run: (call: TermCall, ev: Evaluator) => Value;
}

/** Term handlers by term type. */
export type Registry = Map<number, TermSpec>;

/** Raw wire term parts. */
function parts(term: unknown[]): [number, unknown[], Record<string, unknown>] {
  const args = Array.isArray(term[1]) ? term[1] as unknown[] : [];
  const opt = term[2];
  const optargs = opt !== null && typeof opt === "object" && !Array.isArray(opt)
    ? opt as Record<string, unknown>
    : {};
  return [term[0] as number, args, optargs];
}

/** Evaluates wire terms against a {@link Registry}. */
export class Evaluator {
  constructor(readonly registry: Registry) {}

  /** Evaluates a term. */
  eval(term: unknown, ctx: Ctx): Value {
    if (term === null || typeof term !== "object") return term as Datum;
    if (!Array.isArray(term)) return this.makeObject(term as Record<string, unknown>, ctx);
    const [type, args, optargs] = parts(term);
    if (type === TermType.DATUM) return args as unknown as Datum;
    const spec = this.registry.get(type);
    if (spec === undefined) throw unsupportedTerm(type);
    return spec.run({ type, args, optargs, ctx }, this);
  }

  /** Evaluates positional argument `i`, adding its frame to errors. */
  arg(call: TermCall, i: number, ctx: Ctx = call.ctx): Value {
    try {
      return this.eval(call.args[i], ctx);
    } catch (e) {
      throw withFrame(e, i);
    }
  }

  /** Evaluates argument `i` and converts it to a datum. */
  datumArg(call: TermCall, i: number, ctx: Ctx = call.ctx): Datum {
    try {
      return toDatum(this.eval(call.args[i], ctx));
    } catch (e) {
      throw withFrame(e, i);
    }
  }

  /** Evaluates all positional arguments, expanding `r.args(array)`. */
  allArgs(call: TermCall, from = 0): Value[] {
    const out: Value[] = [];
    for (let i = from; i < call.args.length; i++) {
      const a = call.args[i];
      if (Array.isArray(a) && a[0] === TermType.ARGS) {
        const spread = this.datumArg(call, i);
        if (!Array.isArray(spread)) throw withFrame(logicError("Expected type ARRAY."), i);
        out.push(...spread);
      } else {
        out.push(this.arg(call, i));
      }
    }
    return out;
  }

  /** Evaluates an optional argument to a datum, or returns undefined if absent. */
  optarg(call: TermCall, name: string): Datum | undefined {
    if (!(name in call.optargs)) return undefined;
    try {
      return toDatum(this.eval(call.optargs[name], call.ctx));
    } catch (e) {
      throw withFrame(e, name);
    }
  }

  /** Evaluates an optional argument without converting it (may be a function). */
  optargValue(call: TermCall, name: string): Value | undefined {
    if (!(name in call.optargs)) return undefined;
    try {
      return this.eval(call.optargs[name], call.ctx);
    } catch (e) {
      throw withFrame(e, name);
    }
  }

  /** Calls a function value (or, for a non-function, returns it: RethinkDB's constant functions). */
  call(fn: Value, args: Value[], ctx: Ctx): Value {
    if (!(fn instanceof FuncValue)) return fn;
    if (fn.params.length !== args.length && !(fn.params.length === 1 && args.length > 1)) {
      throw logicError(
        `Expected function with ${args.length} argument${args.length === 1 ? "" : "s"} but ` +
          `found function with ${fn.params.length} argument${fn.params.length === 1 ? "" : "s"}.`,
      );
    }
    const scope = new Map(fn.scope);
    fn.params.forEach((id, i) => scope.set(id, args[i]));
    const implicit = fn.params.length === 1 ? [...ctx.implicit, args[0]] : ctx.implicit;
    return this.eval(fn.body, { ...ctx, scope, implicit });
  }

  /** Calls a function and converts the result to a datum. */
  callDatum(fn: Value, args: Value[], ctx: Ctx): Datum {
    return toDatum(this.call(fn, args, ctx));
  }

  private makeObject(term: Record<string, unknown>, ctx: Ctx): DatumObject {
    const keys = Object.keys(term);
    // Objects come out with sorted keys, the order RethinkDB stores and returns them in.
    for (let i = 1; i < keys.length; i++) {
      if (compareStrings(keys[i - 1], keys[i]) > 0) {
        keys.sort(compareStrings);
        break;
      }
    }
    const out: DatumObject = {};
    for (const key of keys) {
      const v = term[key];
      if (v === null || typeof v !== "object") {
        out[key] = v as Datum;
        continue;
      }
      try {
        out[key] = toDatum(this.eval(v, ctx));
      } catch (e) {
        throw withFrame(e, key);
      }
    }
    return out;
  }
}

/** Adds a backtrace frame to a ReQL error (other errors pass unchanged). */
export function withFrame(e: unknown, frame: Frame): unknown {
  if (e instanceof ReqlError) e.at(frame);
  return e;
}

/** Converts a value to a datum, or fails like RethinkDB does for non-datums. */
export function toDatum(v: Value): Datum {
  if (v === null || typeof v !== "object") return v as Datum;
  if (v instanceof RawDoc) return v.value;
  if (v instanceof SingleSelection) {
    return v.doc === null ? null : v.doc instanceof RawDoc ? v.doc.value : v.doc;
  }
  if (Array.isArray(v)) return v as Datum[];
  if (Object.getPrototypeOf(v) === Object.prototype) return v as DatumObject;
  if (isStreamLike(v)) {
    throw logicError(`Expected type DATUM but found ${typeName(v)}.`);
  }
  throw logicError(`Expected type DATUM but found ${typeName(v)}.`);
}

/** The error for a term type that is valid ReQL but not implemented here. */
export function unsupportedTerm(type: number): ReqlError {
  const name = termTypeName.get(type);
  if (name === undefined) return new ReqlCompileError(`Unrecognized TermType: ${type}.`);
  return unsupported(`the ${name} term (${type})`);
}

/**
 * Checks a whole query before running any of it, as RethinkDB compiles before executing:
 * unknown optional arguments and wrong argument counts are compile errors (`t:17`), terms this
 * server does not implement (or implements only as the whole query) fail before any side effect.
 */
export function validateQuery(term: unknown, registry: Registry): void {
  const path: Frame[] = [];
  const fail = (e: ReqlError): never => {
    for (let i = path.length - 1; i >= 0; i--) e.at(path[i]);
    throw e;
  };
  const walk = (t: unknown): void => {
    if (t === null || typeof t !== "object") return;
    if (!Array.isArray(t)) {
      for (const [key, value] of Object.entries(t as Record<string, unknown>)) {
        path.push(key);
        walk(value);
        path.pop();
      }
      return;
    }
    const [type, args, optargs] = parts(t);
    if (type === TermType.DATUM) return;
    const spec = registry.get(type);
    if (spec === undefined) fail(unsupportedTerm(type));
    if (spec!.rootOnly !== undefined && path.length > 0) fail(unsupported(spec!.rootOnly));
    const allowed = spec!.optargs ?? [];
    for (const name of Object.keys(optargs)) {
      if (!allowed.includes(name)) {
        path.push(name);
        fail(new ReqlCompileError(`Unrecognized optional argument \`${name}\`.`));
      }
    }
    const spread = args.some((a) => Array.isArray(a) && a[0] === TermType.ARGS);
    if (!spread) checkArity(spec!, args.length, fail);
    args.forEach((a, i) => {
      path.push(i);
      walk(a);
      path.pop();
    });
    for (const [name, value] of Object.entries(optargs)) {
      path.push(name);
      walk(value);
      path.pop();
    }
  };
  walk(term);
}

function checkArity(spec: TermSpec, n: number, fail: (e: ReqlError) => never): void {
  const min = spec.minArgs ?? 0;
  const max = spec.maxArgs ?? Infinity;
  if (n >= min && n <= max) return;
  const s = (k: number) => (k === 1 ? "" : "s");
  let expected: string;
  if (min === max) expected = `${min} argument${s(min)}`;
  else if (max === Infinity) expected = `${min} or more arguments`;
  else expected = `between ${min} and ${max} arguments`;
  fail(new ReqlCompileError(`Expected ${expected} but found ${n}.`));
}
