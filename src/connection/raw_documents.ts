/**
 * Finds the documents of a response frame without parsing them: a byte scanner that tracks
 * strings, escapes and nesting, and jumps through string contents with `indexOf`. Only the
 * response type and the primary key of the last document are parsed.
 *
 * @module
 */

import type { RawBatch } from "./raw_batch.ts";
import { FastDocumentScanner, type FastScan } from "./document_scan.ts";

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** A response frame scanned for its documents. */
export interface ScannedResponse {
  /** The response type `t`. */
  readonly type: number;
  /** The documents of `r`, untouched. */
  readonly batch: RawBatch;
}

/**
 * What one read reuses from frame to frame: a fast scanner with its own memory (see
 * `document_scan.ts`), and the arrays the general scanner records boundaries in, which keep
 * the size they grew to. A batch scanned with it is valid until its next scan; {@link close}
 * it when the read ends.
 */
export class ReadScanner {
  /** Start of each document (general scanner). */
  starts: Uint32Array = new Uint32Array(256);
  /** End (exclusive) of each document (general scanner). */
  ends: Uint32Array = new Uint32Array(256);
  /** Bytes to join documents with, where the fast scanner can (see `RawBatch.joined`). */
  readonly join: Uint8Array | undefined;
  readonly #fast = FastDocumentScanner.acquire();

  /** `join`: also join each batch's documents with these bytes (0 to 4). */
  constructor(options: { join?: Uint8Array } = {}) {
    this.join = options.join;
  }

  /** Doubles both arrays, keeping the first `count` entries. */
  grow(count: number): void {
    this.starts = grow(this.starts, count);
    this.ends = grow(this.ends, count);
  }

  /** The fast scanner's result for the array at `open`, or `undefined` if it declines. */
  fast(body: Uint8Array, open: number): FastScan | undefined {
    return this.#fast.scan(body, open, this.join);
  }

  /** Hands the fast scanner back for another read. */
  close(): void {
    this.#fast.release();
  }
}

/**
 * Scans a response body (`{"t":…,"r":[…],…}` in any key order). The batch's `starts`, `ends`
 * and `joined` point into `scanner`'s memory: valid until its next scan. Without one, the scan
 * gets a scanner of its own, left to the collector (for one-off scans).
 *
 * @example
 * ```ts
 * const body = new TextEncoder().encode('{"t":2,"r":[{"id":1},{"id":"a\\"b"}]}');
 * const { type, batch } = scanResponse(body, "id");
 * console.log(type, batch.count, batch.lastKey); // 2 2 a"b
 * ```
 */
export function scanResponse(
  body: Uint8Array,
  primaryKey: string,
  scanner: ReadScanner = new ReadScanner(),
): ScannedResponse {
  let type: number | undefined;
  let starts: Uint32Array = new Uint32Array(0);
  let ends: Uint32Array = new Uint32Array(0);
  let count = 0;
  let joined: Uint8Array | undefined;
  let p = skipSpace(body, 0);
  if (body[p] !== OPEN_BRACE) throw malformed("the response is not a JSON object");
  p = skipSpace(body, p + 1);
  while (body[p] !== CLOSE_BRACE) {
    const keyEnd = skipString(body, p);
    const key = decodeJson(body, p, keyEnd) as string;
    p = skipSpace(body, keyEnd);
    if (body[p] !== COLON) throw malformed("a key without a value");
    p = skipSpace(body, p + 1);
    let valueEnd: number;
    if (key === "r") {
      ({ starts, ends, count, joined, end: valueEnd } = scanArray(body, p, scanner));
    } else {
      valueEnd = skipValue(body, p);
      if (key === "t") type = decodeJson(body, p, valueEnd) as number;
    }
    p = skipSpace(body, valueEnd);
    if (body[p] === COMMA) p = skipSpace(body, p + 1);
    else if (body[p] !== CLOSE_BRACE) throw malformed("a missing comma");
  }
  if (typeof type !== "number") throw malformed("no response type");
  const lastKey = count === 0 ? undefined : keyValue(body, starts[count - 1], primaryKey);
  return { type, batch: { frame: body, starts, ends, count, lastKey, joined } };
}

/**
 * The documents of the array at `start`, and the array's end. The fast path (WebAssembly)
 * takes what a table read sends; anything it declines is scanned here, one byte at a time:
 * inside a document only strings and nesting depth are tracked; between documents (depth 0)
 * the commas are checked. A document that is not an object or array
 * (never the case in a table read) is delimited by {@link skipValue}.
 */
function scanArray(
  body: Uint8Array,
  start: number,
  scanner: ReadScanner,
): { starts: Uint32Array; ends: Uint32Array; count: number; end: number; joined?: Uint8Array } {
  if (body[start] !== OPEN_BRACKET) throw malformed("`r` is not an array");
  const fast = scanner.fast(body, start);
  if (fast) return fast;
  let { starts, ends } = scanner;
  let count = 0;
  let depth = 0;
  let from = 0;
  // At depth 0: whether the last thing seen was a document (a comma or `]` must follow).
  let afterDocument = false;
  let afterComma = false;
  const length = body.length;
  for (let p = start + 1; p < length; p++) {
    const byte = body[p];
    if (depth > 0) {
      if (byte === QUOTE) {
        // Bodies the fast path declines are mostly large documents, whose long strings
        // skipString crosses with indexOf at about twice a byte loop's speed.
        p = skipString(body, p) - 1;
      } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth++;
      else if ((byte === CLOSE_BRACE || byte === CLOSE_BRACKET) && --depth === 0) {
        if (count === starts.length) {
          scanner.grow(count);
          ({ starts, ends } = scanner);
        }
        starts[count] = from;
        ends[count] = p + 1;
        count++;
        afterDocument = true;
      }
      continue;
    }
    if (byte <= 0x20) continue;
    if (byte === COMMA) {
      if (!afterDocument) throw malformed("a misplaced comma in `r`");
      afterDocument = false;
      afterComma = true;
      continue;
    }
    if (byte === CLOSE_BRACKET) {
      if (afterComma && !afterDocument) throw malformed("a trailing comma in `r`");
      return {
        starts: starts.subarray(0, count),
        ends: ends.subarray(0, count),
        count,
        end: p + 1,
      };
    }
    if (afterDocument) throw malformed("a missing comma in `r`");
    afterComma = false;
    if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      depth = 1;
      from = p;
      continue;
    }
    if (byte === CLOSE_BRACE) throw malformed("an unbalanced `}` in `r`");
    const end = skipValue(body, p);
    if (count === starts.length) {
      scanner.grow(count);
      ({ starts, ends } = scanner);
    }
    starts[count] = p;
    ends[count] = end;
    count++;
    afterDocument = true;
    p = end - 1;
  }
  throw malformed("an unterminated `r` array");
}

/** The parsed value of a top-level key of the object at `start`, or `undefined`. */
function keyValue(body: Uint8Array, start: number, wanted: string): unknown {
  if (body[start] !== OPEN_BRACE) return undefined;
  let p = skipSpace(body, start + 1);
  while (body[p] !== CLOSE_BRACE) {
    const keyEnd = skipString(body, p);
    const key = decodeJson(body, p, keyEnd);
    p = skipSpace(body, keyEnd);
    p = skipSpace(body, p + 1);
    const valueEnd = skipValue(body, p);
    if (key === wanted) return decodeJson(body, p, valueEnd);
    p = skipSpace(body, valueEnd);
    if (body[p] === COMMA) p = skipSpace(body, p + 1);
    else if (body[p] !== CLOSE_BRACE) throw malformed("a missing comma in a document");
  }
  return undefined;
}

/** The end (exclusive) of the string whose opening quote is at `start`. */
function skipString(body: Uint8Array, start: number): number {
  if (body[start] !== QUOTE) throw malformed(`a string expected at byte ${start}`);
  let from = start + 1;
  // Most keys and many values are short: a plain loop beats the call to indexOf for them.
  const near = Math.min(from + 16, body.length);
  for (let p = from; p < near; p++) {
    const byte = body[p];
    if (byte === QUOTE) return p + 1;
    if (byte === BACKSLASH) {
      from = p;
      break;
    }
    from = p + 1;
  }
  while (true) {
    const quote = body.indexOf(QUOTE, from);
    if (quote < 0) throw malformed("an unterminated string");
    let backslashes = 0;
    while (body[quote - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/** The end (exclusive) of the JSON value starting at `start`. */
function skipValue(body: Uint8Array, start: number): number {
  const first = body[start];
  if (first === QUOTE) return skipString(body, start);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    let p = start;
    while (p < body.length) {
      const byte = body[p];
      if (byte === QUOTE) {
        p = skipString(body, p);
        continue;
      }
      if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth++;
      else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
        if (--depth === 0) return p + 1;
      }
      p++;
    }
    throw malformed("an unterminated object or array");
  }
  let p = start;
  while (p < body.length) {
    const byte = body[p];
    if (byte === COMMA || byte === CLOSE_BRACE || byte === CLOSE_BRACKET || byte <= 0x20) break;
    p++;
  }
  if (p === start) throw malformed(`a value expected at byte ${start}`);
  return p;
}

function skipSpace(body: Uint8Array, p: number): number {
  while (p < body.length && body[p] <= 0x20) p++;
  if (p >= body.length) throw malformed("the response ends early");
  return p;
}

const decoder = new TextDecoder();

function decodeJson(body: Uint8Array, start: number, end: number): unknown {
  return JSON.parse(decoder.decode(body.subarray(start, end)));
}

function grow(array: Uint32Array, count: number): Uint32Array {
  const bigger = new Uint32Array(array.length * 2);
  bigger.set(array.subarray(0, count));
  return bigger;
}

function malformed(what: string): Error {
  return new Error(`malformed response from the server: ${what}`);
}
