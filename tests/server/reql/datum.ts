/**
 * ReQL data values ("datums") as plain JSON values, with RethinkDB's type names, ordering and
 * canonical form (object keys sorted, as the real server returns them).
 *
 * Pseudo-types (`$reql_type$` TIME, BINARY, GEOMETRY) stay plain objects: the test server stores
 * and returns them exactly as given, only their type name and ordering are special.
 *
 * @module
 */

/** A JSON object datum. */
export interface DatumObject {
  [key: string]: Datum;
}

/** Any ReQL datum. */
export type Datum = null | boolean | number | string | Datum[] | DatumObject;

/** `r.minval` / `r.maxval`: bounds that sort before / after every datum. */
export class Bound {
  private constructor(readonly side: "min" | "max") {}
  /** `r.minval`. */
  static readonly MIN: Bound = new Bound("min");
  /** `r.maxval`. */
  static readonly MAX: Bound = new Bound("max");
}

/** True for a JSON object that is not an array. */
export function isObject(value: unknown): value is DatumObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Bound);
}

/** The `$reql_type$` of a pseudo-type object, or undefined for anything else. */
export function pseudoType(value: unknown): string | undefined {
  if (!isObject(value)) return undefined;
  const type = value.$reql_type$;
  return typeof type === "string" ? type : undefined;
}

/** RethinkDB's name of a datum's type, as `typeOf()` reports it. */
export function datumTypeName(value: unknown): string {
  if (value === null) return "NULL";
  switch (typeof value) {
    case "boolean":
      return "BOOL";
    case "number":
      return "NUMBER";
    case "string":
      return "STRING";
  }
  if (Array.isArray(value)) return "ARRAY";
  if (value instanceof Bound) return value.side === "min" ? "MINVAL" : "MAXVAL";
  const ptype = pseudoType(value);
  return ptype === undefined ? "OBJECT" : `PTYPE<${ptype}>`;
}

/**
 * Compares strings by Unicode code point, which is the order of their UTF-8 bytes (RethinkDB's
 * order). Plain `<` compares UTF-16 code units and gets astral characters wrong.
 */
export function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let ca = a.charCodeAt(i);
    let cb = b.charCodeAt(i);
    if (ca === cb) continue;
    // Move surrogates (U+D800..DFFF) above U+E000..FFFF so that code-unit order becomes
    // code-point order.
    if (ca >= 0xd800) ca += ca < 0xe000 ? 0x2000 : -0x800;
    if (cb >= 0xd800) cb += cb < 0xe000 ? 0x2000 : -0x800;
    return ca < cb ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** Decodes base64 leniently (RethinkDB's own BINARY data may contain `\r\n`). */
export function decodeBase64(data: string): Uint8Array {
  const bin = atob(data.replace(/[\r\n\s]/g, ""));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return sign(a.length - b.length);
}

function compareObjects(a: DatumObject, b: DatumObject): number {
  const ka = Object.keys(a).sort(compareStrings);
  const kb = Object.keys(b).sort(compareStrings);
  const n = Math.min(ka.length, kb.length);
  for (let i = 0; i < n; i++) {
    const byKey = compareStrings(ka[i], kb[i]);
    if (byKey !== 0) return byKey;
    const byValue = compareDatum(a[ka[i]], b[kb[i]]);
    if (byValue !== 0) return byValue;
  }
  return sign(ka.length - kb.length);
}

/**
 * ReQL ordering: values of different types order by type name (ARRAY < BOOL < NULL < NUMBER <
 * OBJECT < PTYPE<BINARY> < PTYPE<GEOMETRY> < PTYPE<TIME> < STRING); `r.minval`/`r.maxval` bound
 * everything. Times compare by `epoch_time` only, binaries by bytes.
 */
export function compareDatum(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a instanceof Bound || b instanceof Bound) {
    if (a instanceof Bound && b instanceof Bound) {
      return a.side === b.side ? 0 : a.side === "min" ? -1 : 1;
    }
    if (a instanceof Bound) return a.side === "min" ? -1 : 1;
    return (b as Bound).side === "min" ? 1 : -1;
  }
  // Fast paths for the common primary key types.
  if (typeof a === "number" && typeof b === "number") return sign(a - b);
  if (typeof a === "string" && typeof b === "string") return compareStrings(a, b);
  const na = datumTypeName(a);
  const nb = datumTypeName(b);
  if (na !== nb) return na < nb ? -1 : 1;
  switch (na) {
    case "BOOL":
      return a === b ? 0 : a ? 1 : -1;
    case "NULL":
      return 0;
    case "ARRAY": {
      const xa = a as Datum[];
      const xb = b as Datum[];
      const n = Math.min(xa.length, xb.length);
      for (let i = 0; i < n; i++) {
        const c = compareDatum(xa[i], xb[i]);
        if (c !== 0) return c;
      }
      return sign(xa.length - xb.length);
    }
    case "PTYPE<TIME>":
      return sign(
        Number((a as DatumObject).epoch_time) - Number((b as DatumObject).epoch_time),
      );
    case "PTYPE<BINARY>":
      return compareBytes(
        decodeBase64(String((a as DatumObject).data)),
        decodeBase64(String((b as DatumObject).data)),
      );
    default:
      return compareObjects(a as DatumObject, b as DatumObject);
  }
}

/** ReQL equality (`r.eq`). */
export function datumEquals(a: unknown, b: unknown): boolean {
  return compareDatum(a, b) === 0;
}

/**
 * Returns the value with every object's keys in RethinkDB's order (sorted by code point). The
 * result shares unchanged parts with the input.
 */
export function canonical(value: Datum): Datum {
  if (Array.isArray(value)) {
    let out: Datum[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const c = canonical(value[i]);
      if (c !== value[i]) (out ??= value.slice())[i] = c;
    }
    return out ?? value;
  }
  if (!isObject(value)) return value;
  const keys = Object.keys(value);
  let sorted = true;
  for (let i = 1; i < keys.length; i++) {
    if (compareStrings(keys[i - 1], keys[i]) > 0) {
      sorted = false;
      break;
    }
  }
  if (!sorted) keys.sort(compareStrings);
  let changed = !sorted;
  const out: DatumObject = {};
  for (const key of keys) {
    const c = canonical(value[key]);
    if (c !== value[key]) changed = true;
    out[key] = c;
  }
  return changed ? out : value;
}

/**
 * JSON text of a datum as a real RethinkDB 2.4.4 writes it (see
 * `../shared/rethinkdb-2.4.4/wire/raw-frames.jsonl`): compact, object keys sorted, strings in
 * raw UTF-8, and numbers in its own format ({@link numberText}).
 */
export function datumToJson(value: Datum): string {
  return writeJson(canonical(value));
}

function writeJson(value: Datum): string {
  if (typeof value === "number") return numberText(value);
  if (Array.isArray(value)) return `[${value.map(writeJson).join(",")}]`;
  if (isObject(value)) {
    const parts: string[] = [];
    for (const key of Object.keys(value)) {
      parts.push(`${JSON.stringify(key)}:${writeJson((value as DatumObject)[key])}`);
    }
    return `{${parts.join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * A number as RethinkDB writes it: integers up to 2^53 plainly; `-0` as `-0.0`; any other
 * double in the shortest digits that read back to it, laid out like rapidjson's `Prettify`:
 * `12345678901234567000.0`, `0.001`, `1e308`, `1.5e-7` (no `+` in exponents).
 */
export function numberText(x: number): string {
  if (Object.is(x, -0)) return "-0.0";
  if (Number.isInteger(x) && Math.abs(x) <= 2 ** 53) return String(x);
  const sign = x < 0 ? "-" : "";
  const [mantissa, exponent] = Math.abs(x).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const length = digits.length;
  const kk = Number(exponent) + 1; // the value is 0.digits × 10^kk
  let text: string;
  if (length <= kk && kk <= 21) text = `${digits}${"0".repeat(kk - length)}.0`;
  else if (0 < kk && kk <= 21) text = `${digits.slice(0, kk)}.${digits.slice(kk)}`;
  else if (-6 < kk && kk <= 0) text = `0.${"0".repeat(-kk)}${digits}`;
  else if (length === 1) text = `${digits}e${kk - 1}`;
  else text = `${digits[0]}.${digits.slice(1)}e${kk - 1}`;
  return sign + text;
}

/**
 * Parses JSON text as RethinkDB does for `r.json`: like `JSON.parse`, except that an integer
 * literal `-0` is the number 0 (only `-0.0` and the like are a negative zero).
 */
export function parseJsonText(text: string): Datum {
  return JSON.parse(
    text,
    // The reviver's third argument holds the literal's source text (V8's JSON.parse source).
    (_key, value, context?: { source?: string }) =>
      Object.is(value, -0) && context?.source !== undefined && /^-0$/.test(context.source)
        ? 0
        : value,
  ) as Datum;
}

/** Deep copy of a datum (so stored data is never shared with callers). */
export function cloneDatum<T extends Datum>(value: T): T {
  return structuredClone(value);
}
