/**
 * Splits the response byte stream into frames (8-byte token, 4-byte length, body), at a cost
 * linear in the bytes received: chunks are kept as they arrive and a body is assembled once,
 * when complete, or returned as a subarray when it lies in one chunk. A large body gets its own
 * buffer as soon as its header is in, and the socket can read straight into it
 * ({@link FrameReader.target}), so a 30 MB document is neither held twice nor copied.
 *
 * @module
 */

/** One response frame. */
export interface Frame {
  /** The query token (the low 53 bits suffice: the client allocates them). */
  readonly token: number;
  /** The UTF-8 JSON body. */
  readonly body: Uint8Array;
}

import { escapeJsonString } from "./json_text.ts";

const HEADER = 12;
const encoder = new TextEncoder();

/** Bodies of at least this size are received in place (see {@link FrameReader.target}). */
export const LARGE_FRAME = 1024 * 1024;

/**
 * Incremental frame reader.
 *
 * @example
 * ```ts
 * const reader = new FrameReader();
 * for (const frame of reader.push(new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 91, 93]))) {
 *   console.log(frame.token, new TextDecoder().decode(frame.body)); // 1 "[]"
 * }
 * ```
 */
export class FrameReader {
  #chunks: Uint8Array[] = [];
  /** Offset of the unread data in `#chunks[0]`. */
  #offset = 0;
  #buffered = 0;
  /** A large body being filled in place. */
  #large: { token: number; body: Uint8Array; filled: number } | undefined;
  /** Bytes copied so far, to prove the cost is linear. */
  bytesCopied = 0;

  /** Bytes received and not yet returned in a frame. */
  get buffered(): number {
    return this.#buffered + (this.#large?.filled ?? 0);
  }

  /**
   * The rest of a large frame's body, when one is being received: read the socket into it and
   * report the bytes with {@link filled}. The buffer becomes the frame's body, owned by
   * whoever receives the frame.
   */
  get target(): Uint8Array | undefined {
    return this.#large?.body.subarray(this.#large.filled);
  }

  /** Records `n` bytes read into {@link target}; returns the frame if it is now complete. */
  filled(n: number): Frame[] {
    const large = this.#large!;
    large.filled += n;
    if (large.filled < large.body.length) return [];
    this.#large = undefined;
    return [{ token: large.token, body: large.body }];
  }

  /** Adds a chunk (kept, not copied) and returns the frames it completes. */
  push(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    if (this.#large) {
      const large = this.#large;
      const part = chunk.subarray(0, large.body.length - large.filled);
      large.body.set(part, large.filled);
      this.bytesCopied += part.length;
      frames.push(...this.filled(part.length));
      chunk = chunk.subarray(part.length);
    }
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    while (this.#buffered >= HEADER) {
      const header = this.#peek(HEADER);
      const view = new DataView(header.buffer, header.byteOffset, HEADER);
      const length = view.getUint32(8, true);
      const token = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
      if (this.#buffered < HEADER + length) {
        if (length >= LARGE_FRAME) this.#startLarge(token, length);
        break;
      }
      this.#skip(HEADER);
      frames.push({ token, body: this.#take(length) });
    }
    return frames;
  }

  /** Moves what is buffered of a large frame into the body's own buffer. */
  #startLarge(token: number, length: number): void {
    this.#skip(HEADER);
    const body = new Uint8Array(length);
    const filled = this.#buffered;
    body.set(this.#take(filled), 0);
    this.bytesCopied += filled;
    this.#large = { token, body, filled };
  }

  /** The next `n` bytes without consuming them (copied only when they span chunks). */
  #peek(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (first.length - this.#offset >= n) return first.subarray(this.#offset, this.#offset + n);
    const out = new Uint8Array(n);
    let filled = 0;
    let offset = this.#offset;
    for (const chunk of this.#chunks) {
      const part = chunk.subarray(offset, offset + n - filled);
      out.set(part, filled);
      filled += part.length;
      offset = 0;
      if (filled === n) break;
    }
    this.bytesCopied += n;
    return out;
  }

  #skip(n: number): void {
    this.#take(n, false);
  }

  /** Consumes `n` bytes; returns them (a subarray when they lie in one chunk). */
  #take(n: number, wanted = true): Uint8Array {
    this.#buffered -= n;
    const first = this.#chunks[0];
    if (first === undefined) return new Uint8Array(0);
    if (first.length - this.#offset >= n) {
      const out = first.subarray(this.#offset, this.#offset + n);
      this.#offset += n;
      if (this.#offset === first.length) this.#dropFirst();
      return out;
    }
    const out = wanted ? new Uint8Array(n) : undefined;
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0];
      const part = chunk.subarray(this.#offset, this.#offset + n - filled);
      out?.set(part, filled);
      filled += part.length;
      this.#offset += part.length;
      if (this.#offset === chunk.length) this.#dropFirst();
    }
    if (out) this.bytesCopied += n;
    return out ?? new Uint8Array(0);
  }

  #dropFirst(): void {
    this.#chunks.shift();
    this.#offset = 0;
  }
}

/**
 * Text inside a query embedded as a JSON string literal, from its UTF-8 bytes: the query's JSON
 * holds the string `marker` where `text` goes.
 */
export interface EmbeddedText {
  /** A string that occurs once in the query, and whose JSON form needs no escaping but `\u`. */
  marker: string;
  /** Valid UTF-8 text. */
  text: Uint8Array;
}

/**
 * Encodes a query frame as the pieces to write, in order: one buffer, or for a large body (an insert of
 * large documents) its header and the body's pieces apart, so that large text is copied once
 * (escaped), not decoded, stringified and encoded.
 *
 * @example
 * ```ts
 * const parts = encodeFrameParts(1, "[1,1,{}]");
 * console.log(parts.length); // 1
 * const text = new TextEncoder().encode('[{"id":1}]');
 * const embedded = encodeFrameParts(2, '[1,[98,["@"]],{}]', { marker: "@", text });
 * // the body is [1,[98,["[{\"id\":1}]"]],{}]
 * ```
 */
export function encodeFrameParts(
  token: number,
  json: string,
  embedded?: EmbeddedText,
): Uint8Array[] {
  let pieces: Uint8Array[];
  if (embedded) {
    const marker = JSON.stringify(embedded.marker).slice(1, -1);
    const at = json.indexOf(marker);
    if (at < 0) throw new Error("the query does not hold the embedded text's marker");
    pieces = [
      encoder.encode(json.slice(0, at)),
      escapeJsonString(embedded.text),
      encoder.encode(json.slice(at + marker.length)),
    ];
  } else pieces = [encoder.encode(json)];
  const length = pieces.reduce((n, piece) => n + piece.length, 0);
  const large = length >= LARGE_FRAME;
  const out = new Uint8Array(HEADER + (large ? 0 : length));
  const view = new DataView(out.buffer);
  view.setUint32(0, token % 2 ** 32, true);
  view.setUint32(4, Math.floor(token / 2 ** 32), true);
  view.setUint32(8, length, true);
  if (large) return [out, ...pieces];
  let offset = HEADER;
  for (const piece of pieces) {
    out.set(piece, offset);
    offset += piece.length;
  }
  return [out];
}
