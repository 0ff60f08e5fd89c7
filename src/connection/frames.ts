/**
 * Splits the response byte stream into frames (8-byte token, 4-byte length, body), at a cost
 * linear in the bytes received. Each body is copied once out of the chunk it arrives in, so the
 * caller reads every chunk into the same buffer; a body handed back with
 * {@link FrameReader.release} is reused for a later frame. A long read then makes no garbage:
 * buffers the heap had not collected yet were what made a dump's memory grow with the table. A
 * large body gets its own buffer as soon as its header is in, and the socket can read straight
 * into it ({@link FrameReader.target}), so a 30 MB document is neither held twice nor copied.
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

/** Released body buffers kept for reuse, at most; enough for a read that runs ahead. */
const POOL_SIZE = 4;

/** The smallest body buffer; larger ones are powers of two, so that one fits the next frame. */
const POOL_GRAIN = 64 * 1024;

/**
 * Smaller bodies (metadata answers, a feed's changes, a STOP's answer) get a buffer of their
 * exact size, left to the collector: a pooled 64 KiB buffer for each of a thousand feeds'
 * answers arriving together was 86 MB of a 1,000-table dump's peak RSS.
 */
const SMALL_BODY = 16 * 1024;

/**
 * Larger bodies get a buffer of their own and are not reused (a pool of 30 MB documents would
 * hold memory for nothing). A long table read comes in frames of about 1.3 MB.
 */
const POOL_MAX_BODY = 4 * 1024 * 1024;

/**
 * Incremental frame reader.
 *
 * @example
 * ```ts
 * const reader = new FrameReader();
 * for (const frame of reader.push(new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 91, 93]))) {
 *   console.log(frame.token, new TextDecoder().decode(frame.body)); // 1 "[]"
 *   reader.release(frame.body); // done with it: its buffer may hold a later frame
 * }
 * ```
 */
export class FrameReader {
  readonly #header = new Uint8Array(HEADER);
  #headerFilled = 0;
  /** The frame whose body is being filled, once its header is in. */
  #current: { token: number; body: Uint8Array; filled: number; large: boolean } | undefined;
  readonly #pool: ArrayBuffer[] = [];
  /** Buffers this reader allocated for pooled bodies: only those are taken back. */
  readonly #pooled = new WeakSet<ArrayBuffer>();
  /** Buffers this reader allocated for bodies too large to pool: freed once released. */
  readonly #unpooled = new WeakSet<ArrayBuffer>();
  /** Bytes copied so far, to prove the cost is linear. */
  bytesCopied = 0;

  /** Bytes received and not yet returned in a frame. */
  get buffered(): number {
    return this.#headerFilled + (this.#current ? HEADER + this.#current.filled : 0);
  }

  /**
   * The rest of a large frame's body, when one is being received: read the socket into it and
   * report the bytes with {@link filled}. The buffer becomes the frame's body, owned by
   * whoever receives the frame.
   */
  get target(): Uint8Array | undefined {
    const current = this.#current;
    return current?.large ? current.body.subarray(current.filled) : undefined;
  }

  /** Records `n` bytes read into {@link target}; returns the frame if it is now complete. */
  filled(n: number): Frame[] {
    const current = this.#current!;
    current.filled += n;
    if (current.filled < current.body.length) return [];
    this.#current = undefined;
    return [{ token: current.token, body: current.body }];
  }

  /**
   * Takes in a chunk and returns the frames it completes. The chunk is not kept: the caller may
   * read into its buffer again at once.
   */
  push(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (!this.#current) {
        const n = Math.min(HEADER - this.#headerFilled, chunk.length - at);
        this.#header.set(chunk.subarray(at, at + n), this.#headerFilled);
        this.#headerFilled += n;
        at += n;
        if (this.#headerFilled < HEADER) break;
        this.#headerFilled = 0;
        this.#begin();
      }
      const current = this.#current!;
      const n = Math.min(current.body.length - current.filled, chunk.length - at);
      current.body.set(chunk.subarray(at, at + n), current.filled);
      this.bytesCopied += n;
      at += n;
      frames.push(...this.filled(n));
    }
    return frames;
  }

  /**
   * Hands back a body this reader returned, once nothing reads it any more: its buffer may
   * then hold a later frame, or, for a body too large to keep, is freed at once (the heap
   * would collect it late: two such bodies alive made a large-document dump's RSS vary by
   * 30 MB). Optional; a body never released is simply collected.
   */
  release(body: Uint8Array): void {
    const buffer = body.buffer as ArrayBuffer;
    if (this.#unpooled.has(buffer)) {
      this.#unpooled.delete(buffer);
      buffer.transfer(0);
      return;
    }
    if (!this.#pooled.has(buffer) || this.#pool.length >= POOL_SIZE) return;
    if (this.#pool.includes(buffer)) return;
    this.#pool.push(buffer);
  }

  /** Starts the frame whose header is in `#header`. */
  #begin(): void {
    const view = new DataView(this.#header.buffer);
    const length = view.getUint32(8, true);
    const token = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
    const large = length >= LARGE_FRAME;
    const body = length < SMALL_BODY
      ? new Uint8Array(length)
      : length > POOL_MAX_BODY
      ? this.#allocateUnpooled(length)
      : this.#allocate(length);
    this.#current = { token, body, filled: 0, large };
  }

  #allocateUnpooled(length: number): Uint8Array {
    const body = new Uint8Array(length);
    this.#unpooled.add(body.buffer);
    return body;
  }

  #allocate(length: number): Uint8Array {
    const index = this.#pool.findIndex((buffer) => buffer.byteLength >= length);
    if (index >= 0) return new Uint8Array(this.#pool.splice(index, 1)[0], 0, length);
    const buffer = new ArrayBuffer(Math.max(POOL_GRAIN, 2 ** Math.ceil(Math.log2(length))));
    this.#pooled.add(buffer);
    return new Uint8Array(buffer, 0, length);
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
