/**
 * One gzip member assembled from pieces compressed apart, the way pigz joins its blocks: each
 * piece is a raw-deflate stream ended by a sync flush (byte-aligned, no final block), so pieces
 * concatenate into one valid deflate stream; the last piece is compressed with a final block;
 * the trailer's CRC-32 is combined from the pieces' CRCs. The result is ONE member, which the
 * official restore needs: it reads with Python's `tarfile` in stream mode, which stops at the
 * end of a first member.
 *
 * @module
 */

import { crc32Combine } from "./crc32.ts";

/** Default gzip level, zlib's. */
export const DEFAULT_COMPRESSION_LEVEL = 6;

/**
 * Compresses one piece on its own into raw deflate ended by a sync flush or, when `final`, by
 * the final block; gives the compressed bytes and the CRC-32 of `bytes`.
 * {@link import("./deflate_pool.ts").DeflatePool.deflatePiece} is one.
 */
export type PieceDeflater = (
  bytes: Uint8Array,
  final: boolean,
) => Promise<{ deflated: Uint8Array; crc32: number }>;

/**
 * Writes one gzip member through `write`, piece by piece.
 *
 * @example
 * ```ts
 * import { DeflatePool } from "./deflate_pool.ts";
 * import { GzipMember } from "./gzip_member.ts";
 *
 * const pool = new DeflatePool({ level: 6 });
 * const parts: Uint8Array[] = [];
 * const member = new GzipMember((bytes) => void parts.push(bytes), 6, (b, f) => pool.deflatePiece(b, f));
 * await member.addPlain(new TextEncoder().encode("hello "));
 * await member.end(new TextEncoder().encode("world"));
 * pool.close();
 * // parts joined are a .gz file of "hello world"
 * ```
 */
export class GzipMember {
  readonly #write: (bytes: Uint8Array) => void | Promise<void>;
  readonly #level: number;
  readonly #deflate: PieceDeflater;
  #crc = 0;
  #size = 0;
  #started = false;

  /**
   * `write` receives the member's bytes in order; `level` is zlib's 1–9 (for the header's XFL
   * byte), and `deflate` compresses the pieces given as plain bytes, at that level.
   */
  constructor(
    write: (bytes: Uint8Array) => void | Promise<void>,
    level: number,
    deflate: PieceDeflater,
  ) {
    this.#write = write;
    this.#level = level;
    this.#deflate = deflate;
  }

  /** Compresses small `bytes` (headers, padding, `.info`) with `deflate`, and appends them. */
  async addPlain(bytes: Uint8Array): Promise<void> {
    if (bytes.byteLength === 0) return;
    await this.#start();
    await this.#addPiece(bytes, false);
  }

  /**
   * Appends the compressed bytes of a piece compressed elsewhere (a raw-deflate stream ended
   * by a sync flush). Call {@link addDeflatedSum} once all of them are written.
   */
  async addDeflated(compressed: Uint8Array): Promise<void> {
    await this.#start();
    if (compressed.byteLength > 0) await this.#write(compressed);
  }

  /** Accounts for a piece written with {@link addDeflated}: its uncompressed length and CRC. */
  addDeflatedSum(size: number, crc: number): void {
    this.#crc = crc32Combine(this.#crc, crc, size);
    this.#size += size;
  }

  /** Compresses the last bytes with the final block, then writes the trailer. */
  async end(last: Uint8Array): Promise<void> {
    await this.#start();
    await this.#addPiece(last, true);
    const trailer = new Uint8Array(8);
    const view = new DataView(trailer.buffer);
    view.setUint32(0, this.#crc, true);
    view.setUint32(4, this.#size % 2 ** 32, true);
    await this.#write(trailer);
  }

  async #addPiece(bytes: Uint8Array, final: boolean): Promise<void> {
    const piece = await this.#deflate(bytes, final);
    await this.#write(piece.deflated);
    this.#crc = crc32Combine(this.#crc, piece.crc32, bytes.byteLength);
    this.#size += bytes.byteLength;
  }

  async #start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    // Magic, deflate, no flags, no mtime, XFL (2: best, 4: fastest), OS 3 (Unix), as zlib does.
    const xfl = this.#level >= 9 ? 2 : this.#level <= 1 ? 4 : 0;
    await this.#write(Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3));
  }
}
