/**
 * The binary "function blobs" of secondary indexes and write hooks: what `indexStatus()` and
 * `getWriteHook()` return as `function`, and what `indexCreate(name, blob)` / `setWriteHook(blob)`
 * accept.
 *
 * Layout, read off the blobs recorded from RethinkDB 2.4.4 (all integers little-endian):
 *
 * ```
 * "$reql_index_function$" 09 07 07 07 | or "$reql_write_hook_function$"
 * 00 00 00 00 00 00  u8 paramCount  paramCount × i64 varId
 * u32 bodyLength  body (JSON of the compiled term, then a NUL byte)  u32 bodyBacktraceId
 * u8 multi  u8 geo                                     (index blobs only)
 * ```
 *
 * The body is a term in the server's internal form: `[type, args?, optargs?, backtraceId]`, with
 * datums as `[1, value, backtraceId]`.
 *
 * @module
 */

import { TermType } from "./proto.ts";

/** Which kind of function a blob holds. */
export type BlobKind = "index" | "hook";

const PREFIX: Record<BlobKind, string> = {
  index: "$reql_index_function$",
  hook: "$reql_write_hook_function$",
};
const INDEX_VERSION = [0x09, 0x07, 0x07, 0x07];
const HEADER_ZEROS = 6;

/** A function decoded from a blob. */
export interface FuncBlob {
  kind: BlobKind;
  /** Variable ids of the parameters (negative ids print as `_varN`). */
  params: number[];
  /** The body in the server's internal term form. */
  body: unknown;
  /** Backtrace id written after the body. */
  bodyBacktrace: number;
  /** Index blobs only. */
  multi: boolean;
  /** Index blobs only. */
  geo: boolean;
}

/** Raised for bytes that are not a valid function blob of the expected kind. */
export class BlobFormatError extends Error {}

/** Decodes a function blob; throws {@link BlobFormatError} if it is malformed. */
export function parseFuncBlob(bytes: Uint8Array, kind: BlobKind): FuncBlob {
  const prefix = new TextEncoder().encode(PREFIX[kind]);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (n: number) => {
    if (at + n > bytes.length) throw new BlobFormatError("truncated blob");
  };
  need(prefix.length);
  for (let i = 0; i < prefix.length; i++) {
    if (bytes[i] !== prefix[i]) throw new BlobFormatError(`missing ${PREFIX[kind]} prefix`);
  }
  at = prefix.length;
  if (kind === "index") {
    need(INDEX_VERSION.length);
    // The version bytes are not checked: blobs from other server versions may differ.
    at += INDEX_VERSION.length;
  }
  need(HEADER_ZEROS + 1);
  at += HEADER_ZEROS;
  const count = bytes[at++];
  const params: number[] = [];
  for (let i = 0; i < count; i++) {
    need(8);
    params.push(Number(view.getBigInt64(at, true)));
    at += 8;
  }
  need(4);
  const length = view.getUint32(at, true);
  at += 4;
  need(length);
  let body: unknown;
  try {
    // The length counts a terminating NUL byte.
    body = JSON.parse(new TextDecoder().decode(bytes.subarray(at, at + length - 1)));
  } catch {
    throw new BlobFormatError("body is not JSON");
  }
  at += length;
  need(4);
  const bodyBacktrace = view.getUint32(at, true);
  at += 4;
  let multi = false;
  let geo = false;
  if (kind === "index") {
    need(2);
    multi = bytes[at++] !== 0;
    geo = bytes[at++] !== 0;
  }
  if (at !== bytes.length) throw new BlobFormatError("trailing bytes");
  return { kind, params, body, bodyBacktrace, multi, geo };
}

/** Encodes a function blob (the inverse of {@link parseFuncBlob}). */
export function serializeFuncBlob(blob: FuncBlob): Uint8Array {
  const enc = new TextEncoder();
  const prefix = enc.encode(PREFIX[blob.kind]);
  const body = enc.encode(JSON.stringify(blob.body));
  const versionLength = blob.kind === "index" ? INDEX_VERSION.length : 0;
  const size = prefix.length + versionLength + HEADER_ZEROS + 1 + 8 * blob.params.length + 4 +
    body.length + 1 + 4 + (blob.kind === "index" ? 2 : 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(prefix, 0);
  let at = prefix.length;
  if (blob.kind === "index") {
    out.set(INDEX_VERSION, at);
    at += INDEX_VERSION.length;
  }
  at += HEADER_ZEROS;
  out[at++] = blob.params.length;
  for (const param of blob.params) {
    view.setBigInt64(at, BigInt(param), true);
    at += 8;
  }
  view.setUint32(at, body.length + 1, true);
  at += 4;
  out.set(body, at);
  at += body.length + 1;
  view.setUint32(at, blob.bodyBacktrace, true);
  at += 4;
  if (blob.kind === "index") {
    out[at++] = blob.multi ? 1 : 0;
    out[at++] = blob.geo ? 1 : 0;
  }
  return out;
}

/**
 * The blob RethinkDB builds for `indexCreate(name)` without a function:
 * `function(_var19) { return _var19.getField(name); }`, all backtrace ids 0 (as recorded).
 */
export function defaultIndexBlob(name: string, multi: boolean, geo: boolean): FuncBlob {
  return {
    kind: "index",
    params: [-19],
    body: [TermType.GET_FIELD, [[TermType.VAR, [[TermType.DATUM, -19, 0]], 0], [
      TermType.DATUM,
      name,
      0,
    ]], 0],
    bodyBacktrace: 0,
    multi,
    geo,
  };
}

/** Splits an internal-form term into type, args, optargs (datums: `args` is `[value]`). */
export function splitInternalTerm(
  term: unknown,
): { type: number; args: unknown[]; optargs: Record<string, unknown>; datum?: unknown } {
  if (!Array.isArray(term) || typeof term[0] !== "number") {
    throw new BlobFormatError("malformed term in function body");
  }
  const type = term[0];
  if (type === TermType.DATUM) return { type, args: [], optargs: {}, datum: term[1] };
  let args: unknown[] = [];
  let optargs: Record<string, unknown> = {};
  for (const part of term.slice(1, -1)) {
    if (Array.isArray(part)) args = part;
    else if (typeof part === "object" && part !== null) optargs = part as Record<string, unknown>;
  }
  return { type, args, optargs };
}

/**
 * Converts a body from the internal form to the wire form the evaluator runs: `[type, args,
 * optargs]`, datums inline (or `[1, value]` for arrays and objects, which the wire form would
 * otherwise read as terms).
 */
export function internalToWire(term: unknown): unknown {
  const { type, args, optargs, datum } = splitInternalTerm(term);
  if (type === TermType.DATUM) {
    return typeof datum === "object" && datum !== null ? [TermType.DATUM, datum] : datum;
  }
  const wire: unknown[] = [type, args.map(internalToWire)];
  const names = Object.keys(optargs);
  if (names.length > 0) {
    wire.push(Object.fromEntries(names.map((n) => [n, internalToWire(optargs[n])])));
  }
  return wire;
}

/**
 * Converts a wire-form term to the internal form, numbering backtrace ids in pre-order from
 * `firstId` (RethinkDB numbers them the same way, from wherever the function sat in its query).
 */
export function wireToInternal(term: unknown, firstId = 1): unknown {
  let next = firstId;
  const walk = (t: unknown): unknown => {
    const id = next++;
    if (t === null || typeof t !== "object") return [TermType.DATUM, t, id];
    if (!Array.isArray(t)) {
      const obj = t as Record<string, unknown>;
      const optargs: Record<string, unknown> = {};
      for (const key of Object.keys(obj)) optargs[key] = walk(obj[key]);
      return [TermType.MAKE_OBJ, optargs, id];
    }
    const [type, args, opts] = t as [number, unknown[]?, Record<string, unknown>?];
    if (type === TermType.DATUM) return [TermType.DATUM, args, id];
    const out: unknown[] = [type];
    if (args !== undefined && args.length > 0) out.push(args.map(walk));
    if (opts !== undefined && Object.keys(opts).length > 0) {
      const optargs: Record<string, unknown> = {};
      for (const key of Object.keys(opts)) optargs[key] = walk(opts[key]);
      out.push(optargs);
    }
    out.push(id);
    return out;
  };
  return walk(term);
}
