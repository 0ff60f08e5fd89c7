/**
 * The `.json` entry of a table: its documents as a JSON array, one document per line, as the
 * official dump writes it. The writer side encodes batches of documents; the reader side splits
 * an entry back into batches of whole documents, validating the JSON without parsing it, so that
 * each document's original text reaches the server byte for byte.
 *
 * @module
 */

import type { Document } from "../connection/driver.ts";
import type { RawBatch } from "../connection/raw_batch.ts";
import { ArchiveError } from "./errors.ts";

const textEncoder = new TextEncoder();
const FIRST_SEPARATOR = Uint8Array.of(0x0a);
const SEPARATOR = Uint8Array.of(0x2c, 0x0a);

/**
 * What comes between two documents of a `.json` entry (`,\n`): a table read asked to join its
 * documents with these bytes (`join` of `readTableRaw`) gives batches that
 * {@link DocumentsEncoder.appendRaw} appends in one piece.
 *
 * @example
 * ```ts
 * const batches = conn.readTableRaw("league", "users", { primaryKey: "id", join: DOCUMENT_SEPARATOR });
 * ```
 */
export const DOCUMENT_SEPARATOR: Uint8Array = SEPARATOR.slice();

/**
 * Encodes documents into the body of a `.json` entry: `[`, then the documents separated by
 * `,\n` (the first preceded by `\n`), then `\n]\n`; an empty table gives `[\n]\n`.
 *
 * Counts the documents and bytes it produced.
 *
 * @example
 * ```ts
 * import { DocumentsEncoder } from "./documents.ts";
 *
 * const encoder = new DocumentsEncoder();
 * const parts = [encoder.begin(), encoder.encode([{ id: 1 }, { id: 2 }]), encoder.end()];
 * // "[\n{"id":1},\n{"id":2}\n]\n"
 * console.log(encoder.documents, encoder.bytes); // 2 25
 * ```
 */
export class DocumentsEncoder {
  /** Documents encoded so far. */
  documents = 0;
  /** Bytes produced so far, brackets included. */
  bytes = 0;

  /**
   * The opening `[`.
   *
   * @example
   * ```ts
   * import { DocumentsEncoder } from "./documents.ts";
   *
   * new DocumentsEncoder().begin(); // Uint8Array [0x5b]
   * ```
   */
  begin(): Uint8Array {
    this.bytes += 1;
    return Uint8Array.of(0x5b);
  }

  /**
   * Encodes a batch of documents with `JSON.stringify`, each on its own line.
   *
   * @example
   * ```ts
   * import { DocumentsEncoder } from "./documents.ts";
   *
   * const encoder = new DocumentsEncoder();
   * encoder.begin();
   * new TextDecoder().decode(encoder.encode([{ id: 1 }])); // "\n{"id":1}"
   * ```
   */
  encode(docs: Document[]): Uint8Array {
    if (docs.length === 0) return new Uint8Array(0);
    let text = "";
    let separator = this.documents === 0 ? "\n" : ",\n";
    for (let i = 0; i < docs.length; i++) {
      text += separator + JSON.stringify(docs[i]);
      separator = ",\n";
    }
    this.documents += docs.length;
    const bytes = textEncoder.encode(text);
    this.bytes += bytes.length;
    return bytes;
  }

  /**
   * Appends a batch exactly as the server sent it to `sink`: each document's bytes are handed
   * over as a view of the response frame, untouched (no parsing, no copy here), each on its own
   * line; `sink.append` must copy what it keeps. A batch read with `join: DOCUMENT_SEPARATOR`
   * goes over as its `joined` bytes, one piece instead of one per document. Returns the bytes
   * appended.
   *
   * @example
   * ```ts
   * import { DocumentsEncoder } from "./documents.ts";
   *
   * const frame = new TextEncoder().encode('{"t":2,"r":[{"id":-0.0}],"n":[]}');
   * const batch = { frame, starts: Uint32Array.of(12), ends: Uint32Array.of(23), count: 1, lastKey: 0 };
   * const encoder = new DocumentsEncoder();
   * encoder.begin();
   * const parts: string[] = [];
   * encoder.appendRaw(batch, { append: (bytes) => void parts.push(new TextDecoder().decode(bytes)) });
   * parts.join(""); // "\n{"id":-0.0}"
   * ```
   */
  appendRaw(batch: RawBatch, sink: { append(bytes: Uint8Array): void }): number {
    const { frame, starts, ends, count, joined } = batch;
    let size = 0;
    if (joined && count > 0 && isJoinedBySeparator(batch, joined)) {
      // The documents with ",\n" between them: only the separator before the first is added.
      const separator = this.documents === 0 ? FIRST_SEPARATOR : SEPARATOR;
      sink.append(separator);
      sink.append(joined);
      size = separator.length + joined.length;
    } else {
      for (let i = 0; i < count; i++) {
        // "\n" before the first document of the entry, ",\n" before every other one.
        const separator = this.documents + i === 0 ? FIRST_SEPARATOR : SEPARATOR;
        sink.append(separator);
        sink.append(frame.subarray(starts[i], ends[i]));
        size += separator.length + ends[i] - starts[i];
      }
    }
    this.documents += count;
    this.bytes += size;
    return size;
  }

  /**
   * The closing `\n]\n`.
   *
   * @example
   * ```ts
   * import { DocumentsEncoder } from "./documents.ts";
   *
   * const encoder = new DocumentsEncoder();
   * encoder.begin();
   * new TextDecoder().decode(encoder.end()); // "\n]\n"
   * ```
   */
  end(): Uint8Array {
    this.bytes += 3;
    return Uint8Array.of(0x0a, 0x5d, 0x0a);
  }
}

/**
 * Whether `joined` is the batch's documents with `,\n` between them, checked in constant time: the
 * separator after the first document, and the length the documents of a compact frame (one comma
 * between each two, as the server sends) make. Anything else takes the per-document path.
 */
function isJoinedBySeparator(batch: RawBatch, joined: Uint8Array): boolean {
  const { starts, ends, count } = batch;
  const first = ends[0] - starts[0];
  if (count > 1 && (joined[first] !== SEPARATOR[0] || joined[first + 1] !== SEPARATOR[1])) {
    return false;
  }
  return joined.length === ends[count - 1] - starts[0] + (count - 1) * (SEPARATOR.length - 1);
}

/** A batch of whole documents read from a `.json` entry. */
export interface DocumentBatch {
  /**
   * A JSON array of the documents (UTF-8), each one's text exactly as in the entry: ready for
   * `r.json`. Sent as it is, never decoded on the restore path.
   */
  readonly text: Uint8Array;
  /** {@link text} decoded (on each access; for checks and tests). */
  readonly json: string;
  /** Documents in the batch. */
  count: number;
  /** Bytes of the documents' text (UTF-8), separators and whitespace between them excluded. */
  bytes: number;
  /** Offset in the entry just after the batch's last document: the entry bytes consumed so far. */
  endOffset: number;
  /** Index (0-based) in the entry of the batch's first document. */
  firstDocument: number;
}

const batchDecoder = new TextDecoder();

/** A batch whose `json` is decoded from `text` only when asked for. */
function makeBatch(text: Uint8Array, fields: Omit<DocumentBatch, "text" | "json">): DocumentBatch {
  return {
    text,
    get json() {
      return batchDecoder.decode(text);
    },
    ...fields,
  };
}

/** Options of {@link splitDocuments}. */
export interface SplitDocumentsOptions {
  /** Largest document accepted, in bytes; default 64 MiB. */
  maxDocumentBytes?: number;
  /** A batch is emitted once it has this many documents; default 1000. */
  batchDocuments?: number;
  /**
   * A batch is emitted once its documents reach this many bytes; default 4 MiB. A document that
   * would take a non-empty batch over this size starts a new batch, so a large document is
   * alone in its batch.
   */
  batchBytes?: number;
}

/** Default of {@link SplitDocumentsOptions.maxDocumentBytes}: 64 MiB. */
export const DEFAULT_MAX_DOCUMENT_BYTES = 64 * 1024 * 1024;
/** Default of {@link SplitDocumentsOptions.batchDocuments}. */
export const DEFAULT_BATCH_DOCUMENTS = 1000;
/** Default of {@link SplitDocumentsOptions.batchBytes}: 4 MiB. */
export const DEFAULT_BATCH_BYTES = 4 * 1024 * 1024;

// Scanner states. Top level (between documents):
const T_START = 0; // before anything: `[`, `{` or a UTF-8 BOM
const T_BOM1 = 1; // after EF
const T_BOM2 = 2; // after EF BB
const T_ARR_FIRST = 3; // after the opening `[`: a document or `]`
const T_ARR_AFTER = 4; // after a document in the array: `,` or `]`
const T_ARR_COMMA = 5; // after `,` in the array: a document
const T_SEQ = 6; // documents separated by whitespace (NDJSON, concatenated)
const T_DONE = 7; // after the closing `]`: whitespace only
// Inside a document:
const V_VALUE = 10; // a value
const V_ARR_FIRST = 11; // after `[`: a value or `]`
const V_OBJ_FIRST = 12; // after `{`: a key or `}`
const V_OBJ_KEY = 13; // after `,` in an object: a key
const V_COLON = 14; // after a key: `:`
const V_AFTER = 15; // after a value: `,`, `}` or `]`
const S_STRING = 20;
const S_ESCAPE = 21; // after `\`
const S_HEX = 22; // in `\uXXXX`
const S_UTF8 = 23; // in a multi-byte UTF-8 sequence
const N_MINUS = 30; // after `-`
const N_ZERO = 31; // after a leading `0`
const N_INT = 32; // in the integer digits
const N_DOT = 33; // after `.`
const N_FRAC = 34; // in the fraction digits
const N_E = 35; // after `e`
const N_ESIGN = 36; // after `e+` / `e-`
const N_EXP = 37; // in the exponent digits
const L_LITERAL = 40; // in `true`, `false` or `null`

const OBJECT = 1;
const ARRAY = 2;

/** 1 for bytes that stand for themselves in a JSON string: printable ASCII but `"` and `\`. */
const PLAIN = new Uint8Array(256);
for (let c = 0x20; c < 0x80; c++) PLAIN[c] = c === 0x22 || c === 0x5c ? 0 : 1;
/** 1 for JSON whitespace. */
const SPACE = new Uint8Array(256);
SPACE[0x20] =
  SPACE[0x09] =
  SPACE[0x0a] =
  SPACE[0x0d] =
    1;
/** 1 for decimal digits. */
const DIGIT = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) DIGIT[c] = 1;
/** 1 for hexadecimal digits. */
const HEX = new Uint8Array(256);
for (const c of "0123456789abcdefABCDEF") HEX[c.charCodeAt(0)] = 1;
/** 1 for the characters that may follow `\`. */
const ESCAPABLE = new Uint8Array(256);
for (const c of '"\\/bfnrt') ESCAPABLE[c.charCodeAt(0)] = 1;

const LITERALS: Record<number, Uint8Array> = {
  0x74: textEncoder.encode("true"),
  0x66: textEncoder.encode("false"),
  0x6e: textEncoder.encode("null"),
};

function hex(c: number): string {
  return c.toString(16).padStart(2, "0");
}

function describe(c: number): string {
  if (c > 0x20 && c < 0x7f) return `'${String.fromCharCode(c)}'`;
  return `byte 0x${hex(c)}`;
}

/**
 * The synchronous core of {@link splitDocuments}: feed it the bytes of a `.json` entry chunk by
 * chunk, then call {@link DocumentScanner.end}; completed batches are returned by
 * {@link DocumentScanner.take}.
 *
 * Accepts a JSON array of objects (any whitespace), or objects separated by whitespace (NDJSON,
 * concatenated JSON). Every byte is validated: JSON syntax, string escapes, numbers, literals,
 * nesting and UTF-8.
 *
 * @example
 * ```ts
 * import { DocumentScanner } from "./documents.ts";
 *
 * const scanner = new DocumentScanner("db/t.json");
 * scanner.feed(new TextEncoder().encode('[\n{"id": 1},\n{"id": 2}\n]\n'));
 * scanner.end();
 * scanner.take(); // [{ json: '[{"id": 1},{"id": 2}]', count: 2, bytes: 22, … }]
 * ```
 */
export class DocumentScanner {
  readonly #path: string;
  readonly #maxDocumentBytes: number;
  readonly #batchDocuments: number;
  readonly #batchBytes: number;

  // Syntax state.
  #state = T_START;
  #array = false; // the entry is a JSON array (else a sequence of documents)
  #stack = new Uint8Array(64);
  #depth = 0;
  #key = false; // the current string is an object key
  #pending = 0; // hex digits left in `\u`, or UTF-8 continuation bytes left
  #low = 0x80; // lowest valid next UTF-8 continuation byte
  #high = 0xbf; // highest valid next UTF-8 continuation byte
  #literal: Uint8Array = LITERALS[0x74];
  #literalIndex = 0;

  // Position.
  #offset = 0; // entry offset of the start of the chunk being fed
  #docStart = -1; // entry offset of the current document's first byte, -1 between documents
  #documents = 0; // documents started

  // The batch being built: `[`, documents separated by `,`; room is kept for the closing `]`.
  #buffer = new Uint8Array(64 * 1024);
  #length = 1;
  #count = 0;
  #bytes = 0;
  #docPos = 1; // buffer position of the current document's first byte
  #separator = -1; // buffer position of the `,` before the current document, -1 if first
  #endOffset = 0;
  #out: DocumentBatch[] = [];
  #ended = false;

  /** `entryPath` names the entry in errors; `options` as for {@link splitDocuments}. */
  constructor(entryPath: string, options: SplitDocumentsOptions = {}) {
    this.#path = entryPath;
    this.#maxDocumentBytes = options.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_BYTES;
    this.#batchDocuments = Math.max(1, options.batchDocuments ?? DEFAULT_BATCH_DOCUMENTS);
    this.#batchBytes = Math.max(1, options.batchBytes ?? DEFAULT_BATCH_BYTES);
    this.#buffer[0] = 0x5b;
  }

  /** Documents completed so far. */
  get documents(): number {
    return this.#state >= V_VALUE ? this.#documents - 1 : this.#documents;
  }

  /** Bytes fed so far. */
  get offset(): number {
    return this.#offset;
  }

  /**
   * Removes and returns the batches completed so far.
   *
   * @example
   * ```ts
   * import { DocumentScanner } from "./documents.ts";
   *
   * const scanner = new DocumentScanner("t.json", { batchDocuments: 1 });
   * scanner.feed(new TextEncoder().encode('{"id": 1}\n'));
   * scanner.take().length; // 1
   * ```
   */
  take(): DocumentBatch[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }

  #error(offset: number, what: string): never {
    throw new ArchiveError(`${this.#path}: invalid JSON at byte ${offset}: ${what}`);
  }

  #push(kind: number): void {
    if (this.#depth === this.#stack.length) {
      const bigger = new Uint8Array(this.#stack.length * 2);
      bigger.set(this.#stack);
      this.#stack = bigger;
    }
    this.#stack[this.#depth++] = kind;
  }

  #ensure(extra: number): void {
    const needed = this.#length + extra + 1;
    if (needed <= this.#buffer.length) return;
    let size = this.#buffer.length * 2;
    while (size < needed) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = bigger;
  }

  #beginDocument(offset: number): void {
    this.#docStart = offset;
    this.#documents++;
    if (this.#count > 0) {
      this.#ensure(1);
      this.#separator = this.#length;
      this.#buffer[this.#length++] = 0x2c;
    } else {
      this.#separator = -1;
    }
    this.#docPos = this.#length;
  }

  /** Copies part of the current document into the batch; `end` is the entry offset after it. */
  #append(chunk: Uint8Array, from: number, to: number, end: number): void {
    const size = end - this.#docStart;
    if (size > this.#maxDocumentBytes) {
      throw new ArchiveError(
        `${this.#path}: document ${this.#documents} at byte ${this.#docStart} is larger than ` +
          `the limit of ${this.#maxDocumentBytes} bytes (at least ${size} bytes)`,
      );
    }
    if (to > from) {
      this.#ensure(to - from);
      this.#buffer.set(chunk.subarray(from, to), this.#length);
      this.#length += to - from;
    }
    if (this.#count > 0 && this.#bytes + size > this.#batchBytes) this.#emitPrevious();
  }

  #endDocument(chunk: Uint8Array, from: number, to: number): void {
    const end = this.#offset + to;
    this.#append(chunk, from, to, end);
    this.#count++;
    this.#bytes += end - this.#docStart;
    this.#endOffset = end;
    this.#docStart = -1;
    if (this.#count >= this.#batchDocuments || this.#bytes >= this.#batchBytes) this.#emit();
  }

  /** Emits the batch without the current (incomplete or just completed) document. */
  #emitPrevious(): void {
    const buffer = this.#buffer;
    const docLength = this.#length - this.#docPos;
    const batchEnd = this.#separator;
    buffer[batchEnd] = 0x5d;
    this.#out.push(makeBatch(buffer.slice(0, batchEnd + 1), {
      count: this.#count,
      bytes: this.#bytes,
      endOffset: this.#endOffset,
      firstDocument: this.#documents - 1 - this.#count,
    }));
    buffer.copyWithin(1, this.#docPos, this.#length);
    this.#length = 1 + docLength;
    this.#docPos = 1;
    this.#separator = -1;
    this.#count = 0;
    this.#bytes = 0;
  }

  #emit(): void {
    if (this.#count === 0) return;
    this.#buffer[this.#length] = 0x5d;
    // A buffer grown for a large document is handed over whole instead of copied.
    const replace = this.#buffer.length > Math.max(2 * this.#batchBytes, 1 << 20);
    const text = replace
      ? this.#buffer.subarray(0, this.#length + 1)
      : this.#buffer.slice(0, this.#length + 1);
    this.#out.push(makeBatch(text, {
      count: this.#count,
      bytes: this.#bytes,
      endOffset: this.#endOffset,
      firstDocument: this.#documents - this.#count,
    }));
    this.#length = 1;
    this.#count = 0;
    this.#bytes = 0;
    if (replace) {
      this.#buffer = new Uint8Array(64 * 1024);
      this.#buffer[0] = 0x5b;
    }
  }

  /**
   * Scans the next chunk of the entry. Throws an {@link ArchiveError} at the first invalid byte.
   *
   * @example
   * ```ts
   * import { DocumentScanner } from "./documents.ts";
   *
   * const scanner = new DocumentScanner("t.json");
   * scanner.feed(new TextEncoder().encode('[{"id"'));
   * scanner.feed(new TextEncoder().encode(': 1}]'));
   * scanner.end();
   * ```
   */
  feed(chunk: Uint8Array): void {
    if (this.#ended) throw new Error("DocumentScanner.feed() after end()");
    const n = chunk.length;
    const base = this.#offset;
    let state = this.#state;
    let depth = this.#depth;
    let stack = this.#stack;
    let key = this.#key;
    let pending = this.#pending;
    let low = this.#low;
    let high = this.#high;
    let from = this.#docStart >= 0 ? 0 : -1; // chunk offset where the current document's bytes start
    let i = 0;
    try {
      while (i < n) {
        let c = chunk[i];
        switch (state) {
          case S_STRING: {
            while (PLAIN[c] === 1) {
              if (++i === n) break;
              c = chunk[i];
            }
            if (i === n) break;
            if (c === 0x22) state = key ? V_COLON : V_AFTER;
            else if (c === 0x5c) state = S_ESCAPE;
            else if (c < 0x20) {
              this.#error(base + i, `control character ${describe(c)} in a string`);
            } else {
              state = S_UTF8;
              low = 0x80;
              high = 0xbf;
              if (c >= 0xc2 && c <= 0xdf) pending = 1;
              else if (c === 0xe0) (pending = 2), (low = 0xa0);
              else if (c >= 0xe1 && c <= 0xef) (pending = 2), c === 0xed && (high = 0x9f);
              else if (c === 0xf0) (pending = 3), (low = 0x90);
              else if (c >= 0xf1 && c <= 0xf3) pending = 3;
              else if (c === 0xf4) (pending = 3), (high = 0x8f);
              else this.#error(base + i, `invalid UTF-8 byte 0x${hex(c)}`);
            }
            i++;
            break;
          }
          case S_UTF8:
            if (c < low || c > high) this.#error(base + i, `invalid UTF-8 byte 0x${hex(c)}`);
            low = 0x80;
            high = 0xbf;
            if (--pending === 0) state = S_STRING;
            i++;
            break;
          case S_ESCAPE:
            if (c === 0x75) (state = S_HEX), (pending = 4);
            else if (ESCAPABLE[c] === 1) state = S_STRING;
            else this.#error(base + i, `invalid escape \\${String.fromCharCode(c)} in a string`);
            i++;
            break;
          case S_HEX:
            if (HEX[c] !== 1) this.#error(base + i, `invalid \\u escape: ${describe(c)}`);
            if (--pending === 0) state = S_STRING;
            i++;
            break;
          case V_AFTER:
            if (SPACE[c] === 1) {
              i++;
              break;
            }
            if (c === 0x2c) {
              state = stack[depth - 1] === OBJECT ? V_OBJ_KEY : V_VALUE;
            } else if (c === 0x7d || c === 0x5d) {
              const kind = c === 0x7d ? OBJECT : ARRAY;
              if (stack[depth - 1] !== kind) {
                this.#error(
                  base + i,
                  `unexpected ${describe(c)}, expected ',' or ${
                    stack[depth - 1] === OBJECT ? "'}'" : "']'"
                  }`,
                );
              }
              if (--depth === 0) {
                this.#endDocument(chunk, from, i + 1);
                from = -1;
                state = this.#array ? T_ARR_AFTER : T_SEQ;
              }
            } else {
              this.#error(
                base + i,
                `unexpected ${describe(c)}, expected ',' or ${
                  stack[depth - 1] === OBJECT ? "'}'" : "']'"
                }`,
              );
            }
            i++;
            break;
          case V_COLON:
            if (c === 0x3a) state = V_VALUE;
            else if (SPACE[c] !== 1) {
              this.#error(base + i, `unexpected ${describe(c)}, expected ':'`);
            }
            i++;
            break;
          case V_OBJ_FIRST:
          case V_OBJ_KEY:
            if (c === 0x22) (state = S_STRING), (key = true);
            else if (c === 0x7d && state === V_OBJ_FIRST) {
              if (--depth === 0) {
                this.#endDocument(chunk, from, i + 1);
                from = -1;
                state = this.#array ? T_ARR_AFTER : T_SEQ;
              } else state = V_AFTER;
            } else if (SPACE[c] !== 1) {
              this.#error(
                base + i,
                `unexpected ${describe(c)}, expected ${
                  state === V_OBJ_FIRST ? "a key or '}'" : "a key"
                }`,
              );
            }
            i++;
            break;
          case V_VALUE:
          case V_ARR_FIRST:
          case N_ZERO:
          case N_INT:
          case N_FRAC:
          case N_EXP: {
            if (state >= N_MINUS) {
              // In a number that may end here.
              if (DIGIT[c] === 1) {
                if (state === N_ZERO) this.#error(base + i, "leading zero in a number");
                while (++i < n && DIGIT[chunk[i]] === 1);
                break;
              }
              if (c === 0x2e && state <= N_INT) state = N_DOT;
              else if ((c === 0x65 || c === 0x45) && state !== N_EXP) state = N_E;
              else {
                state = V_AFTER; // the number ends; look at this byte again
                break;
              }
              i++;
              break;
            }
            if (SPACE[c] === 1) {
              i++;
              break;
            }
            if (c === 0x22) (state = S_STRING), (key = false);
            else if (c === 0x7b) {
              if (depth === stack.length) {
                this.#depth = depth;
                this.#push(OBJECT);
                stack = this.#stack;
                depth = this.#depth;
              } else stack[depth++] = OBJECT;
              state = V_OBJ_FIRST;
            } else if (c === 0x5b) {
              if (depth === stack.length) {
                this.#depth = depth;
                this.#push(ARRAY);
                stack = this.#stack;
                depth = this.#depth;
              } else stack[depth++] = ARRAY;
              state = V_ARR_FIRST;
            } else if (c >= 0x31 && c <= 0x39) state = N_INT;
            else if (c === 0x30) state = N_ZERO;
            else if (c === 0x2d) state = N_MINUS;
            else if (c === 0x74 || c === 0x66 || c === 0x6e) {
              const literal = LITERALS[c];
              const length = literal.length;
              if (
                i + length <= n && chunk[i + 1] === literal[1] && chunk[i + 2] === literal[2] &&
                chunk[i + 3] === literal[3] && (length === 4 || chunk[i + 4] === literal[4])
              ) {
                i += length;
                state = V_AFTER;
                break;
              }
              this.#literal = literal;
              this.#literalIndex = 1;
              state = L_LITERAL;
            } else if (c === 0x5d && state === V_ARR_FIRST) {
              depth--; // depth stays > 0: documents are objects
              state = V_AFTER;
            } else {
              this.#error(
                base + i,
                `unexpected ${describe(c)}, expected ${
                  state === V_ARR_FIRST ? "a value or ']'" : "a value"
                }`,
              );
            }
            i++;
            break;
          }
          case N_MINUS:
          case N_DOT:
          case N_E:
          case N_ESIGN:
            if (c >= 0x30 && c <= 0x39) {
              state = state === N_MINUS
                ? (c === 0x30 ? N_ZERO : N_INT)
                : state === N_DOT
                ? N_FRAC
                : N_EXP;
            } else if (state === N_E && (c === 0x2b || c === 0x2d)) state = N_ESIGN;
            else this.#error(base + i, `unexpected ${describe(c)} in a number, expected a digit`);
            i++;
            break;
          case L_LITERAL: {
            const literal = this.#literal;
            if (c !== literal[this.#literalIndex]) {
              this.#error(
                base + i,
                `unexpected ${describe(c)}, expected '${
                  String.fromCharCode(literal[this.#literalIndex])
                }' of ${new TextDecoder().decode(literal)}`,
              );
            }
            if (++this.#literalIndex === literal.length) state = V_AFTER;
            i++;
            break;
          }
          default: {
            // Between documents.
            if (SPACE[c] === 1 && state !== T_BOM1 && state !== T_BOM2) {
              i++;
              break;
            }
            if (
              c === 0x7b &&
              (state === T_START || state === T_ARR_FIRST || state === T_ARR_COMMA ||
                state === T_SEQ)
            ) {
              if (state === T_START) this.#array = false;
              this.#beginDocument(base + i);
              from = i;
              stack[0] = OBJECT;
              depth = 1;
              state = V_OBJ_FIRST;
              i++;
              break;
            }
            state = this.#between(state, c, base + i);
            i++;
          }
        }
      }
      if (from >= 0) this.#append(chunk, from, n, base + n);
    } finally {
      this.#state = state;
      this.#depth = depth;
      this.#key = key;
      this.#pending = pending;
      this.#low = low;
      this.#high = high;
      this.#offset = base + n;
    }
  }

  /** The transitions between documents other than the start of a document. */
  #between(state: number, c: number, offset: number): number {
    switch (state) {
      case T_START:
        if (c === 0x5b) {
          this.#array = true;
          return T_ARR_FIRST;
        }
        if (c === 0xef && offset === 0) return T_BOM1;
        return this.#error(offset, `unexpected ${describe(c)}, expected '[' or '{'`);
      case T_BOM1:
        if (c === 0xbb) return T_BOM2;
        return this.#error(offset, `invalid UTF-8 byte 0x${hex(c)}`);
      case T_BOM2:
        if (c === 0xbf) return T_START;
        return this.#error(offset, `invalid UTF-8 byte 0x${hex(c)}`);
      case T_ARR_FIRST:
        if (c === 0x5d) return T_DONE;
        return this.#notObject(offset, c, "a document (JSON object) or ']'");
      case T_ARR_AFTER:
        if (c === 0x2c) return T_ARR_COMMA;
        if (c === 0x5d) return T_DONE;
        return this.#error(
          offset,
          `unexpected ${describe(c)} after a document, expected ',' or ']'`,
        );
      case T_ARR_COMMA:
        return this.#notObject(offset, c, "a document (JSON object)");
      case T_SEQ:
        return this.#notObject(offset, c, "a document (JSON object)");
      case T_DONE:
        return this.#error(offset, `unexpected ${describe(c)} after the closing ']'`);
    }
    throw new Error(`DocumentScanner: bad state ${state}`);
  }

  #notObject(offset: number, c: number, expected: string): never {
    if (c === 0x5b || c === 0x22 || c === 0x2d || (c >= 0x30 && c <= 0x39) || LITERALS[c]) {
      this.#error(offset, `document ${this.#documents + 1} is not a JSON object`);
    }
    this.#error(offset, `unexpected ${describe(c)}, expected ${expected}`);
  }

  /**
   * Ends the entry: checks that it is complete and emits the last batch.
   *
   * @example
   * ```ts
   * import { DocumentScanner } from "./documents.ts";
   *
   * const scanner = new DocumentScanner("t.json");
   * scanner.feed(new TextEncoder().encode("[\n]\n"));
   * scanner.end();
   * scanner.documents; // 0
   * ```
   */
  end(): void {
    if (this.#ended) return;
    const state = this.#state;
    const offset = this.#offset;
    if (state >= V_VALUE) {
      this.#error(
        offset,
        `unexpected end of data inside document ${this.#documents} (started at byte ${this.#docStart})`,
      );
    }
    if (state === T_ARR_FIRST || state === T_ARR_AFTER || state === T_ARR_COMMA) {
      this.#error(offset, "unexpected end of data, the array is not closed with ']'");
    }
    if (state === T_BOM1 || state === T_BOM2) this.#error(offset, "unexpected end of data");
    this.#ended = true;
    this.#emit();
  }
}

/**
 * Splits the body of a `.json` entry into batches of whole documents, ready for `r.json`.
 *
 * Accepts the official format (a JSON array, any whitespace), NDJSON and concatenated JSON
 * objects. Validates the whole entry with a byte-level state machine, without parsing the
 * documents, and keeps each document's text byte for byte (so `9007199254740993` is not
 * rounded). Errors are {@link ArchiveError}s naming the entry: invalid JSON (with the byte
 * offset), a document that is not an object or larger than `maxDocumentBytes`, or an array
 * without its closing `]`.
 *
 * @example
 * ```ts
 * import { splitDocuments } from "./documents.ts";
 *
 * const file = await Deno.open("users.json");
 * for await (const batch of splitDocuments(file.readable, "dump/league/users.json")) {
 *   console.log(batch.count, batch.bytes); // then insert r.json(batch.json)
 * }
 * ```
 */
export async function* splitDocuments(
  body: ReadableStream<Uint8Array>,
  entryPath: string,
  options: SplitDocumentsOptions = {},
): AsyncGenerator<DocumentBatch, void, undefined> {
  const scanner = new DocumentScanner(entryPath, options);
  const reader = body.getReader();
  let done = false;
  try {
    while (true) {
      const result = await reader.read();
      if (result.done) break;
      scanner.feed(result.value);
      for (const batch of scanner.take()) yield batch;
    }
    done = true;
    scanner.end();
    for (const batch of scanner.take()) yield batch;
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
