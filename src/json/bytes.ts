/**
 * JSON located, not parsed: the byte-level steps that the response scanner, the change capture
 * and the archive's change entries share. Every function works on UTF-8 bytes and returns
 * offsets; only what a caller asks to decode (a key, a response type) is ever decoded, so a
 * value is copied exactly as the server wrote it (`-0.0`, `12345678901234567000.0`, escapes).
 *
 * The input is trusted to be JSON as RethinkDB writes it, or is checked by the caller's own
 * parse; these steps throw a {@link JsonBytesError} where the bytes cannot be walked (cut short,
 * unbalanced), not on every invalid form.
 *
 * @module
 */

/**
 * The bytes of JSON's structure, for scanners that walk it themselves (a hot loop that cannot
 * afford a call per value).
 *
 * @example
 * ```ts
 * import { JSON_BYTES } from "./bytes.ts";
 *
 * const { QUOTE } = JSON_BYTES;
 * new TextEncoder().encode('"a"')[0] === QUOTE; // true
 * ```
 */
export const JSON_BYTES = {
  QUOTE: 0x22,
  BACKSLASH: 0x5c,
  OPEN_BRACE: 0x7b,
  CLOSE_BRACE: 0x7d,
  OPEN_BRACKET: 0x5b,
  CLOSE_BRACKET: 0x5d,
  COMMA: 0x2c,
  COLON: 0x3a,
} as const;

const {
  QUOTE,
  BACKSLASH,
  OPEN_BRACE,
  CLOSE_BRACE,
  OPEN_BRACKET,
  CLOSE_BRACKET,
  COMMA,
  COLON,
} = JSON_BYTES;

/**
 * Bytes that could not be walked as JSON. The message says what was expected; callers add where
 * the bytes came from.
 *
 * @example
 * ```ts
 * import { JsonBytesError, skipValue } from "./bytes.ts";
 *
 * try {
 *   skipValue(new TextEncoder().encode('{"a":'), 0);
 * } catch (error) {
 *   console.log(error instanceof JsonBytesError); // true
 * }
 * ```
 */
export class JsonBytesError extends Error {
  constructor(what: string) {
    super(what);
    this.name = "JsonBytesError";
  }
}

/**
 * The end (exclusive) of the string whose opening quote is at `start`.
 *
 * @example
 * ```ts
 * import { skipString } from "./bytes.ts";
 *
 * skipString(new TextEncoder().encode('"a\\"b",1'), 0); // 6
 * ```
 */
export function skipString(text: Uint8Array, start: number): number {
  if (text[start] !== QUOTE) throw new JsonBytesError(`a string expected at byte ${start}`);
  let from = start + 1;
  // Most keys and many values are short: a plain loop beats the call to indexOf for them.
  const near = Math.min(from + 16, text.length);
  for (let p = from; p < near; p++) {
    const byte = text[p];
    if (byte === QUOTE) return p + 1;
    if (byte === BACKSLASH) {
      from = p;
      break;
    }
    from = p + 1;
  }
  while (true) {
    const quote = text.indexOf(QUOTE, from);
    if (quote < 0) throw new JsonBytesError("an unterminated string");
    let backslashes = 0;
    while (text[quote - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/**
 * The end (exclusive) of the JSON value starting at `start` (no leading space).
 *
 * @example
 * ```ts
 * import { skipValue } from "./bytes.ts";
 *
 * skipValue(new TextEncoder().encode('{"a":[1,"]"]},2'), 0); // 13
 * ```
 */
export function skipValue(text: Uint8Array, start: number): number {
  const first = text[start];
  if (first === QUOTE) return skipString(text, start);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    let p = start;
    while (p < text.length) {
      const byte = text[p];
      if (byte === QUOTE) {
        p = skipString(text, p);
        continue;
      }
      if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth++;
      else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
        if (--depth === 0) return p + 1;
      }
      p++;
    }
    throw new JsonBytesError("an unterminated object or array");
  }
  let p = start;
  while (p < text.length) {
    const byte = text[p];
    if (byte === COMMA || byte === CLOSE_BRACE || byte === CLOSE_BRACKET || byte <= 0x20) break;
    p++;
  }
  if (p === start) throw new JsonBytesError(`a value expected at byte ${start}`);
  return p;
}

/**
 * The first index at or after `p` that is not JSON whitespace; throws if the text ends first.
 *
 * @example
 * ```ts
 * import { skipSpace } from "./bytes.ts";
 *
 * skipSpace(new TextEncoder().encode(" \n 1"), 0); // 3
 * ```
 */
export function skipSpace(text: Uint8Array, p: number): number {
  while (p < text.length && text[p] <= 0x20) p++;
  if (p >= text.length) throw new JsonBytesError("the text ends early");
  return p;
}

const decoder = new TextDecoder();

/**
 * Parses the JSON between `start` and `end`: for the few small values a caller needs (a key,
 * a response type), never for documents.
 *
 * @example
 * ```ts
 * import { decodeAt } from "./bytes.ts";
 *
 * decodeAt(new TextEncoder().encode('{"t":3}'), 5, 6); // 3
 * ```
 */
export function decodeAt(text: Uint8Array, start: number, end: number): unknown {
  return JSON.parse(decoder.decode(text.subarray(start, end)));
}

/** Where one member of an object lies: its key (decoded) and its value's bytes. */
export interface Member {
  key: string;
  valueStart: number;
  valueEnd: number;
}

/**
 * Walks the members of the object at `start`, calling `visit` for each; `visit` returns `true`
 * to stop early. Returns the index after the object (or after the stopping member's value).
 *
 * @example
 * ```ts
 * import { forEachMember } from "./bytes.ts";
 *
 * const text = new TextEncoder().encode('{"new_val":{"id":1},"old_val":null}');
 * forEachMember(text, 0, (m) => void console.log(m.key, m.valueStart, m.valueEnd));
 * // new_val 11 19
 * // old_val 30 34
 * ```
 */
export function forEachMember(
  text: Uint8Array,
  start: number,
  visit: (member: Member) => boolean | void,
): number {
  if (text[start] !== OPEN_BRACE) throw new JsonBytesError(`an object expected at byte ${start}`);
  let p = skipSpace(text, start + 1);
  while (text[p] !== CLOSE_BRACE) {
    const keyEnd = skipString(text, p);
    const key = keyText(text, p, keyEnd);
    p = skipSpace(text, keyEnd);
    if (text[p] !== COLON) throw new JsonBytesError("a key without a value");
    p = skipSpace(text, p + 1);
    const valueEnd = skipValue(text, p);
    if (visit({ key, valueStart: p, valueEnd })) return valueEnd;
    p = skipSpace(text, valueEnd);
    if (text[p] === COMMA) p = skipSpace(text, p + 1);
    else if (text[p] !== CLOSE_BRACE) throw new JsonBytesError("a missing comma in an object");
  }
  return p + 1;
}

/**
 * Walks the elements of the array at `start`, calling `visit` with each one's bounds. Returns
 * the index after the array.
 *
 * @example
 * ```ts
 * import { forEachElement } from "./bytes.ts";
 *
 * const text = new TextEncoder().encode('[{"a":1}, 2]');
 * forEachElement(text, 0, (start, end) => console.log(start, end)); // 1 8, then 10 11
 * ```
 */
export function forEachElement(
  text: Uint8Array,
  start: number,
  visit: (start: number, end: number) => void,
): number {
  if (text[start] !== OPEN_BRACKET) throw new JsonBytesError(`an array expected at byte ${start}`);
  let p = skipSpace(text, start + 1);
  while (text[p] !== CLOSE_BRACKET) {
    const end = skipValue(text, p);
    visit(p, end);
    p = skipSpace(text, end);
    if (text[p] === COMMA) p = skipSpace(text, p + 1);
    else if (text[p] !== CLOSE_BRACKET) throw new JsonBytesError("a missing comma in an array");
  }
  return p + 1;
}

/**
 * The bytes of the value of `key` in the object at `start`, or `undefined` without one.
 *
 * @example
 * ```ts
 * import { memberValue } from "./bytes.ts";
 *
 * const text = new TextEncoder().encode('{"id":-0.0,"n":"x"}');
 * new TextDecoder().decode(memberValue(text, 0, "id")); // "-0.0"
 * ```
 */
export function memberValue(text: Uint8Array, start: number, key: string): Uint8Array | undefined {
  let found: Uint8Array | undefined;
  forEachMember(text, start, (member) => {
    if (member.key !== key) return false;
    found = text.subarray(member.valueStart, member.valueEnd);
    return true;
  });
  return found;
}

/** A key's text: most keys have no escape and are decoded without a parse. */
function keyText(text: Uint8Array, start: number, end: number): string {
  for (let p = start + 1; p < end - 1; p++) {
    if (text[p] === BACKSLASH) return decodeAt(text, start, end) as string;
  }
  return decoder.decode(text.subarray(start + 1, end - 1));
}
