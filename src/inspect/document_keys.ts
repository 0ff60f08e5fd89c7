/**
 * The top-level keys of each document of a batch (`[{…},{…}]` in UTF-8, as the archive's scanner
 * emits it, already validated), without parsing or decoding the documents: only keys are
 * decoded, values are skipped (string contents with `indexOf`). Checking that every document holds the primary key
 * must not cost a parse of every document, nor hold a 30 MB one as objects.
 *
 * @module
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const decoder = new TextDecoder();
/** Bytes that end a number or literal: `,`, `}`, `]` and whitespace. */
const ENDS_SCALAR = new Uint8Array(256);
for (const c of [0x2c, 0x7d, 0x5d, 0x20, 0x09, 0x0a, 0x0d]) ENDS_SCALAR[c] = 1;

/**
 * Calls `visit` with each document's index in the batch and its top-level keys.
 *
 * @example
 * ```ts
 * import { forEachDocumentKeys } from "./document_keys.ts";
 *
 * const batch = new TextEncoder().encode('[{"id":1,"a":{"b":2}},{"x":"}"}]');
 * forEachDocumentKeys(batch, (i, keys) => console.log(i, keys));
 * // 0 ["id", "a"]
 * // 1 ["x"]
 * ```
 */
export function forEachDocumentKeys(
  batch: Uint8Array,
  visit: (index: number, keys: string[]) => void,
): void {
  let index = 0;
  let p = batch.indexOf(0x5b) + 1; // after `[`
  while (true) {
    p = skipSpace(batch, p);
    const c = batch[p];
    if (c === 0x5d || c === undefined) return; // `]`
    if (c === 0x2c) { // `,`
      p++;
      continue;
    }
    const keys: string[] = [];
    p = objectKeys(batch, p, keys);
    visit(index++, keys);
  }
}

/** Collects the keys of the object at `start`; returns the index after it. */
function objectKeys(text: Uint8Array, start: number, keys: string[]): number {
  let p = skipSpace(text, start + 1); // after `{`
  while (text[p] !== 0x7d) {
    if (text[p] === 0x2c) p = skipSpace(text, p + 1);
    const end = stringEnd(text, p);
    const raw = text.subarray(p, end);
    keys.push(
      raw.includes(BACKSLASH)
        ? JSON.parse(decoder.decode(raw))
        : decoder.decode(raw.subarray(1, -1)),
    );
    p = skipSpace(text, end);
    p = skipSpace(text, p + 1); // after `:`
    p = skipSpace(text, valueEnd(text, p));
  }
  return p + 1;
}

/** The index after the (valid) value at `start`. */
function valueEnd(text: Uint8Array, start: number): number {
  const c = text[start];
  if (c === QUOTE) return stringEnd(text, start);
  if (c !== 0x7b && c !== 0x5b) {
    let p = start;
    while (p < text.length && !ENDS_SCALAR[text[p]]) p++;
    return p;
  }
  let depth = 0;
  for (let p = start; p < text.length; p++) {
    const b = text[p];
    if (b === QUOTE) p = stringEnd(text, p) - 1;
    else if (b === 0x7b || b === 0x5b) depth++;
    else if ((b === 0x7d || b === 0x5d) && --depth === 0) return p + 1;
  }
  return text.length;
}

/** The index after the closing quote of the string whose opening quote is at `start`. */
function stringEnd(text: Uint8Array, start: number): number {
  let from = start + 1;
  while (true) {
    const quote = text.indexOf(QUOTE, from);
    if (quote < 0) return text.length;
    let backslashes = 0;
    while (text[quote - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

function skipSpace(text: Uint8Array, p: number): number {
  while (p < text.length) {
    const c = text[p];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    p++;
  }
  return p;
}
