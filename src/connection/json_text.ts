/**
 * JSON text embedded in a query as a string literal, built from its UTF-8 bytes: what
 * `JSON.stringify` would make of the decoded text, without decoding it, stringifying it and
 * encoding it again (three copies of every batch, fatal to memory with 30 MB documents).
 *
 * @module
 */

/** 1 for the bytes a JSON string must escape: `"`, `\` and control characters. */
const ESCAPED = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) ESCAPED[c] = 1;
ESCAPED[0x22] = 1;
ESCAPED[0x5c] = 1;

/** Short escapes, as `JSON.stringify` writes them; other control characters are `\u00XX`. */
const SHORT: Record<number, number> = {
  0x08: 0x62, // \b
  0x09: 0x74, // \t
  0x0a: 0x6e, // \n
  0x0c: 0x66, // \f
  0x0d: 0x72, // \r
  0x22: 0x22, // \"
  0x5c: 0x5c, // \\
};

const HEX = new TextEncoder().encode("0123456789abcdef");

/**
 * The contents (between the quotes) of the JSON string literal holding `text`, a valid UTF-8
 * text: `"` and `\` get a backslash, control characters their escape, every other byte is
 * copied. Byte for byte what `JSON.stringify` writes for the decoded text.
 *
 * @example
 * ```ts
 * import { escapeJsonString } from "./json_text.ts";
 *
 * const bytes = escapeJsonString(new TextEncoder().encode('[{"id":1}]'));
 * new TextDecoder().decode(bytes); // [{\"id\":1}]
 * ```
 */
export function escapeJsonString(text: Uint8Array): Uint8Array {
  let extra = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (ESCAPED[c] === 1) extra += SHORT[c] === undefined ? 5 : 1;
  }
  if (extra === 0) return text;
  const out = new Uint8Array(text.length + extra);
  let at = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (ESCAPED[c] === 0) {
      out[at++] = c;
      continue;
    }
    out[at++] = 0x5c;
    const short = SHORT[c];
    if (short !== undefined) {
      out[at++] = short;
    } else {
      out[at++] = 0x75; // u00XX
      out[at++] = 0x30;
      out[at++] = 0x30;
      out[at++] = HEX[c >> 4];
      out[at++] = HEX[c & 15];
    }
  }
  return out;
}
