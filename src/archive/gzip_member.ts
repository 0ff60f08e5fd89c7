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

import { constants, deflateRawSync } from "node:zlib";
import { crc32, crc32Combine } from "./crc32.ts";

/** Default gzip level, zlib's. */
export const DEFAULT_COMPRESSION_LEVEL = 6;

/**
 * Writes one gzip member through `write`, piece by piece.
 *
 * @example
 * ```ts
 * import { GzipMember } from "./gzip_member.ts";
 *
 * const parts: Uint8Array[] = [];
 * const member = new GzipMember((bytes) => void parts.push(bytes), 6);
 * await member.addPlain(new TextEncoder().encode("hello "));
 * await member.end(new TextEncoder().encode("world"));
 * // parts joined are a .gz file of "hello world"
 * ```
 */
export class GzipMember {
  readonly #write: (bytes: Uint8Array) => void | Promise<void>;
  readonly #level: number;
  #crc = 0;
  #size = 0;
  #started = false;

  /** `write` receives the member's bytes in order; `level` is zlib's 1–9. */
  constructor(write: (bytes: Uint8Array) => void | Promise<void>, level: number) {
    this.#write = write;
    this.#level = level;
  }

  /** Compresses `bytes` here (for small pieces: headers, padding, `.info`) and appends them. */
  async addPlain(bytes: Uint8Array): Promise<void> {
    if (bytes.byteLength === 0) return;
    await this.#start();
    const piece = deflateRawSync(bytes, {
      level: this.#level,
      finishFlush: constants.Z_SYNC_FLUSH,
    });
    await this.#write(new Uint8Array(piece.buffer, piece.byteOffset, piece.byteLength));
    this.#crc = crc32(bytes, this.#crc);
    this.#size += bytes.byteLength;
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
    const piece = deflateRawSync(last, { level: this.#level });
    await this.#write(new Uint8Array(piece.buffer, piece.byteOffset, piece.byteLength));
    this.#crc = crc32(last, this.#crc);
    this.#size += last.byteLength;
    const trailer = new Uint8Array(8);
    const view = new DataView(trailer.buffer);
    view.setUint32(0, this.#crc, true);
    view.setUint32(4, this.#size % 2 ** 32, true);
    await this.#write(trailer);
  }

  async #start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    // Magic, deflate, no flags, no mtime, XFL (2: best, 4: fastest), OS 3 (Unix), as zlib does.
    const xfl = this.#level >= 9 ? 2 : this.#level <= 1 ? 4 : 0;
    await this.#write(Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3));
  }
}
