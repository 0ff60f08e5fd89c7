/**
 * Regenerates the JavaScript text RethinkDB shows as `query` in `indexStatus()` and
 * `getWriteHook()`, from a function blob.
 *
 * A single-line port of RethinkDB's `js_pprint.cc` (the real printer may break very long
 * functions over several lines; this one never does). It reproduces the recorded texts exactly,
 * e.g. `function(var1, var2, var3) { return var3.merge({"touched": var1("timestamp")}); }`.
 *
 * @module
 */

import { splitInternalTerm } from "./func_blob.ts";
import { TermType, termTypeName } from "./proto.ts";

type Split = ReturnType<typeof splitInternalTerm>;

/** Terms printed as `r.name(args)` rather than chained after their first argument. */
const NOT_CHAINED = new Set<number>([
  TermType.ERROR,
  TermType.UUID,
  TermType.HTTP,
  TermType.DB,
  TermType.EQ,
  TermType.NE,
  TermType.LT,
  TermType.LE,
  TermType.GT,
  TermType.GE,
  TermType.NOT,
  TermType.ADD,
  TermType.SUB,
  TermType.MUL,
  TermType.DIV,
  TermType.MOD,
  TermType.BIT_AND,
  TermType.BIT_OR,
  TermType.BIT_XOR,
  TermType.BIT_NOT,
  TermType.BIT_SAL,
  TermType.BIT_SAR,
  TermType.OBJECT,
  TermType.RANGE,
  TermType.DB_CREATE,
  TermType.DB_DROP,
  TermType.DB_LIST,
  TermType.BRANCH,
  TermType.OR,
  TermType.AND,
  TermType.JSON,
  TermType.ISO8601,
  TermType.EPOCH_TIME,
  TermType.NOW,
  TermType.TIME,
  TermType.MONDAY,
  TermType.TUESDAY,
  TermType.WEDNESDAY,
  TermType.THURSDAY,
  TermType.FRIDAY,
  TermType.SATURDAY,
  TermType.SUNDAY,
  TermType.JANUARY,
  TermType.FEBRUARY,
  TermType.MARCH,
  TermType.APRIL,
  TermType.MAY,
  TermType.JUNE,
  TermType.JULY,
  TermType.AUGUST,
  TermType.SEPTEMBER,
  TermType.OCTOBER,
  TermType.NOVEMBER,
  TermType.DECEMBER,
  TermType.LITERAL,
  TermType.RANDOM,
  TermType.GEOJSON,
  TermType.POINT,
  TermType.LINE,
  TermType.POLYGON,
  TermType.CIRCLE,
  TermType.DATUM,
  TermType.VAR,
  TermType.MAKE_ARRAY,
  TermType.MAKE_OBJ,
  TermType.ARGS,
  TermType.JAVASCRIPT,
  TermType.ASC,
  TermType.DESC,
  TermType.MINVAL,
  TermType.MAXVAL,
]);

/** Constant-like terms printed without parentheses (`r.minval`, `r.row`, `r.monday`). */
const NO_PARENS = new Set<number>([
  TermType.MINVAL,
  TermType.MAXVAL,
  TermType.IMPLICIT_VAR,
  ...[107, 108, 109, 110, 111, 112, 113],
  ...[114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125],
]);

/** `var3` for positive ids, `_var19` for negative ones. */
export function varName(id: number): string {
  return id < 0 ? `_var${-id}` : `var${id}`;
}

/** `GET_FIELD` → `getField`, `left_bound` → `leftBound`. */
function toJsName(name: string): string {
  return name.toLowerCase().replace(/_(.)/g, (_, c: string) => c.toUpperCase());
}

/** The JavaScript method name of a term type. */
function jsName(type: number): string {
  if (type === TermType.JAVASCRIPT) return "js";
  return toJsName(termTypeName.get(type) ?? `term${type}`);
}

function shouldContinueString(t: Split): boolean {
  if (t.type === TermType.TABLE || t.type === TermType.FUNCALL) return t.args.length === 2;
  return !NOT_CHAINED.has(t.type);
}

function shouldUseRdot(t: Split): boolean {
  return t.type !== TermType.VAR && t.type !== TermType.DATUM;
}

function shouldUseParens(t: Split): boolean {
  return t.args.length > 0 || !NO_PARENS.has(t.type);
}

function numberText(n: number): string {
  // C++ prints integral doubles with lrint and others with std::to_string (six decimals).
  return Math.trunc(n) === n ? String(n) : n.toFixed(6);
}

function bytesToBase64(data: string): string {
  return data.replace(/[\r\n]/g, "");
}

class Printer {
  #inRExpr = false;
  #prependOk = true;

  visit(term: unknown): string {
    const t = splitInternalTerm(term);
    const oldRExpr = this.#inRExpr;
    let out: string;
    switch (t.type) {
      case TermType.DATUM:
        out = this.datum(t.datum);
        if (!this.#inRExpr) out = this.rExpr(out);
        break;
      case TermType.FUNCALL:
        out = t.args.length === 2 ? this.dots(t) : this.toplevelFuncall(t);
        break;
      case TermType.MAKE_ARRAY:
        this.#inRExpr = true;
        out = `[${t.args.map((a) => this.visit(a)).join(", ")}]`;
        if (!oldRExpr) out = this.rExpr(out);
        break;
      case TermType.MAKE_OBJ:
        this.#inRExpr = true;
        out = oldRExpr ? this.naturalObject(t) : this.wrappedObject(t);
        break;
      case TermType.FUNC:
        out = this.func(t);
        break;
      case TermType.VAR:
        out = varName(Number(splitInternalTerm(t.args[0]).datum));
        break;
      case TermType.IMPLICIT_VAR:
        out = this.rDot("row");
        break;
      default:
        if (shouldContinueString(t)) out = this.dots(t);
        else if (shouldUseParens(t)) out = this.standardFuncall(t);
        else out = this.rDot(jsName(t.type));
    }
    this.#inRExpr = oldRExpr;
    return out;
  }

  /** Prints a function: `function(var1) { return BODY; }`. */
  funcFrom(params: number[], body: unknown): string {
    const old = this.#inRExpr;
    this.#inRExpr = false;
    const text = `function(${params.map(varName).join(", ")}) { return ${this.visit(body)}; }`;
    this.#inRExpr = old;
    return text;
  }

  private func(t: Split): string {
    const paramTerm = splitInternalTerm(t.args[0]);
    const ids = paramTerm.type === TermType.MAKE_ARRAY
      ? paramTerm.args.map((a) => Number(splitInternalTerm(a).datum))
      : (paramTerm.datum as number[]);
    return this.funcFrom(ids, t.args[1]);
  }

  private rDot(text: string): string {
    return this.#prependOk ? `r.${text}` : text;
  }

  private rExpr(text: string): string {
    return this.rDot(`expr(${text})`);
  }

  private datum(d: unknown): string {
    if (d === null) return "null";
    if (typeof d === "boolean") return String(d);
    if (typeof d === "number") return numberText(d);
    if (typeof d === "string") return `"${d}"`;
    if (Array.isArray(d)) return `[${d.map((x) => this.datum(x)).join(", ")}]`;
    const obj = d as Record<string, unknown>;
    if (obj.$reql_type$ === "BINARY") {
      return `Buffer(${bytesToBase64(String(obj.data))}, 'base64')`;
    }
    return `{${Object.keys(obj).map((k) => `"${k}": ${this.datum(obj[k])}`).join(", ")}}`;
  }

  private naturalObject(t: Split): string {
    const items = Object.keys(t.optargs).map((k) => `"${k}": ${this.visit(t.optargs[k])}`);
    return `{${items.join(", ")}}`;
  }

  private wrappedObject(t: Split): string {
    const items = Object.keys(t.optargs).flatMap((k) => [`"${k}"`, this.visit(t.optargs[k])]);
    return this.rDot(`object(${items.join(", ")})`);
  }

  private optargs(t: Split): string {
    const items = Object.keys(t.optargs).map((k) =>
      `"${toJsName(k)}": ${this.visit(t.optargs[k])}`
    );
    return `{${items.join(", ")}}`;
  }

  /** Chains `a.b(x).c(y)` from nested terms, as JavaScript users write them. */
  private dots(top: Split): string {
    const stack: string[] = [];
    let lastShouldRWrap = false;
    let current: Split | undefined = top;
    while (current !== undefined && shouldContinueString(current)) {
      const t: Split = current;
      const old = this.#inRExpr;
      let next: Split | undefined;
      switch (t.type) {
        case TermType.BRACKET: {
          this.#inRExpr = true;
          const opt = Object.keys(t.optargs).length > 0 ? `, ${this.optargs(t)}` : "";
          stack.push(`(${this.visit(t.args[1])}${opt})`);
          this.#inRExpr = old;
          lastShouldRWrap = false;
          next = splitInternalTerm(t.args[0]);
          break;
        }
        case TermType.FUNCALL:
          this.#inRExpr = true;
          stack.push(`.do(${this.visit(t.args[0])})`);
          this.#inRExpr = old;
          lastShouldRWrap = true;
          next = splitInternalTerm(t.args[1]);
          break;
        case TermType.IMPLICIT_VAR:
          stack.push("row");
          lastShouldRWrap = true;
          break;
        default: {
          this.#inRExpr = true;
          const parts = t.args.slice(1).map((a) => this.visit(a));
          if (Object.keys(t.optargs).length > 0) parts.push(this.optargs(t));
          this.#inRExpr = old;
          const call = `${jsName(t.type)}(${parts.join(", ")})`;
          lastShouldRWrap = shouldUseRdot(t);
          if (t.args.length === 0) {
            stack.push(call);
          } else {
            stack.push(`.${call}`);
            next = splitInternalTerm(t.args[0]);
          }
        }
      }
      current = next;
    }
    const chain = stack.reverse().join("");
    if (current === undefined) return lastShouldRWrap ? this.rDot(chain) : chain;
    if (shouldUseRdot(current)) {
      const old = this.#prependOk;
      this.#prependOk = false;
      const head = this.visit(termOf(current));
      this.#prependOk = old;
      return this.rDot(head + chain);
    }
    return this.visit(termOf(current)) + chain;
  }

  private toplevelFuncall(t: Split): string {
    const old = this.#inRExpr;
    this.#inRExpr = true;
    const args = t.args.slice(1).map((a) => this.visit(a));
    this.#inRExpr = old;
    const fn = this.visit(t.args[0]);
    return this.rDot(`do(${fn}${args.map((a) => `, ${a}`).join("")})`);
  }

  private standardFuncall(t: Split): string {
    const old = this.#inRExpr;
    this.#inRExpr = true;
    const parts = t.args.map((a) => this.visit(a));
    if (Object.keys(t.optargs).length > 0) parts.push(this.optargs(t));
    this.#inRExpr = old;
    const call = `${jsName(t.type)}(${parts.join(", ")})`;
    return shouldUseRdot(t) ? this.rDot(call) : call;
  }
}

/** Rebuilds an internal-form term from its split form (for re-visiting). */
function termOf(t: Split): unknown {
  if (t.type === TermType.DATUM) return [TermType.DATUM, t.datum, 0];
  const out: unknown[] = [t.type];
  if (t.args.length > 0) out.push(t.args);
  if (Object.keys(t.optargs).length > 0) out.push(t.optargs);
  out.push(0);
  return out;
}

/** `function(params) { return BODY; }` for an internal-form body. */
export function printFunction(params: number[], body: unknown): string {
  return new Printer().funcFrom(params, body);
}

/** The `query` text of a secondary index, as `indexStatus()` shows it. */
export function indexQueryText(
  name: string,
  params: number[],
  body: unknown,
  multi: boolean,
  geo: boolean,
): string {
  const flags = [multi ? "multi: true" : "", geo ? "geo: true" : ""].filter((f) => f !== "");
  const options = flags.length > 0 ? `, {${flags.join(", ")}}` : "";
  return `indexCreate('${name}', ${printFunction(params, body)}${options})`;
}

/** The `query` text of a write hook, as `getWriteHook()` shows it. */
export function writeHookQueryText(params: number[], body: unknown): string {
  return `setWriteHook(${printFunction(params, body)})`;
}
