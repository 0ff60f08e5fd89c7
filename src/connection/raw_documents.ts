/**
 * Finds the documents of a response frame without parsing them: a byte scanner that tracks
 * strings, escapes and nesting, and jumps through string contents with `indexOf`. Only the
 * response type and the primary key of the last document are parsed.
 *
 * @module
 */

import type { RawBatch } from "./raw_batch.ts";
import { FastDocumentScanner, type FastScan } from "./document_scan.ts";
import {
  decodeAt as decodeJson,
  JSON_BYTES,
  JsonBytesError,
  memberValue,
  skipSpace,
  skipString,
  skipValue,
} from "../json/bytes.ts";

const { QUOTE, OPEN_BRACE, CLOSE_BRACE, OPEN_BRACKET, CLOSE_BRACKET, COMMA, COLON } = JSON_BYTES;

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
  try {
    return scan(body, primaryKey, scanner);
  } catch (error) {
    if (error instanceof JsonBytesError) throw malformed(error.message);
    throw error;
  }
}

function scan(body: Uint8Array, primaryKey: string, scanner: ReadScanner): ScannedResponse {
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
  const value = memberValue(body, start, wanted);
  return value && JSON.parse(new TextDecoder().decode(value));
}

function grow(array: Uint32Array, count: number): Uint32Array {
  const bigger = new Uint32Array(array.length * 2);
  bigger.set(array.subarray(0, count));
  return bigger;
}

function malformed(what: string): Error {
  return new Error(`malformed response from the server: ${what}`);
}
