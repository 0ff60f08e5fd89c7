/**
 * The worker side of {@link import("./deflate_pool.ts").DeflatePool}: compresses the blocks of
 * any number of streams, each block on its own into raw deflate ended by a sync flush
 * (byte-aligned, no final block), so that blocks and streams join into one gzip member the way
 * pigz joins its blocks. Beside compressing, it computes what the trailer and the dump's record
 * need from each stream's uncompressed bytes, in order: their length, CRC-32 and, when asked,
 * SHA-256. A dump runs the thread at the lowest priority (see
 * {@link import("./thread_priority.ts")}), so all of this is taken from CPU the server leaves
 * idle; the thread that reads from the server only copies bytes.
 *
 * Messages in: `{ id, open, level, sha256 }`, `{ id, block, length }` (the block's buffer is
 * transferred), `{ id, finish }`, `{ id, close }`, and `{ id, piece, level, final }` for one
 * small piece compressed on its own; `{ id: 0, nice }` first, to lower the thread's priority.
 * Messages out: `{ id, out, block }` (the compressed bytes,
 * and the input block handed back for reuse, both transferred),
 * `{ id, done: { size, crc32, sha256? } }`, `{ id, out, crc }` (a piece), `{ id, error }`.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { constants, crc32, deflateRawSync, type ZlibOptions } from "node:zlib";
import { Buffer } from "node:buffer";
import { lowerThreadPriority } from "./thread_priority.ts";
import { collectGarbage } from "../memory/governor.ts";

interface Stream {
  level: number;
  crc: number;
  size: number;
  /** Compressed size of the stream's last block: the next one's is likely close. */
  lastOut: number;
  hash?: Hash;
}

const streams = new Map<number, Stream>();

/** Output buffers of a stream's blocks start at this size at most, and grow with its output. */
const MIN_OUTPUT = 64 * 1024;

/**
 * Output room for a block or piece of `length` bytes: above deflate's worst case (stored blocks
 * of at most 64 KiB, 5 bytes each, and the 5-byte flush) with margin. Sized to the input, not a
 * fixed 64 KiB: a dump of a thousand small tables compresses thousands of small pieces, and
 * larger output buffers were garbage this rarely collected heap kept (3,000 pieces of 18 KB
 * with 64 KiB outputs: +51 MB RSS).
 */
function outputRoom(length: number): number {
  return length + (length >> 6) + 1024;
}

/**
 * zlib calls between forced collections. Deno frees a zlib handle's native state (some 270 KB
 * at level 6) only when the collector finalizes it, and this isolate's small heap is seldom
 * collected: a dump of 1,000 small tables, four calls each, kept tens of megabytes of them.
 */
const ZLIB_CALLS_PER_COLLECTION = 64;

let zlibCalls = 0;

/** `deflateRawSync`, with the collection that frees the native state of earlier calls. */
function deflateRaw(bytes: Uint8Array, options: ZlibOptions): Buffer {
  if (++zlibCalls % ZLIB_CALLS_PER_COLLECTION === 0) collectGarbage();
  return deflateRawSync(bytes, options);
}

/** Size of `Buffer`'s shared pool, from which only outputs smaller than half of it come. */
const BUFFER_POOL_SIZE = 8192;

function post(message: unknown, transfer: Transferable[] = []): void {
  (globalThis as unknown as Worker).postMessage(message, transfer);
}

function compress(id: number, block: Uint8Array, length: number): void {
  const stream = streams.get(id);
  if (!stream) return;
  const bytes = block.subarray(0, length);
  stream.crc = crc32(bytes, stream.crc);
  stream.hash?.update(bytes);
  stream.size += length;
  // The synchronous call costs about 0.7x zlib's stream API here (measured on 44 MB of JSON:
  // 0.21 s against 0.30 s of CPU), and a block compressed on its own is under 1% larger at 1 MiB.
  // The output goes into one buffer, cut to size and handed over: zlib's default 16 KiB pieces
  // and the copy joining them were garbage this rarely collected heap kept (50 MB over 400
  // blocks in a test). The buffer is twice the last block's output, not deflate's bound for the
  // block: a cleared 1 MiB buffer for 64 KiB of output made each block 10% slower. An output
  // that outgrows it comes in pieces, joined.
  const chunkSize = Math.min(outputRoom(length), Math.max(MIN_OUTPUT, 2 * stream.lastOut));
  const deflated = deflateRaw(bytes, {
    level: stream.level,
    finishFlush: constants.Z_SYNC_FLUSH,
    chunkSize,
  });
  stream.lastOut = deflated.byteLength;
  // Pieces joined come in a buffer of their own, larger than Buffer's shared pool; anything
  // else may share its buffer, and is copied.
  const owned = deflated.byteOffset === 0 &&
    (deflated.buffer.byteLength === chunkSize ||
      (deflated.buffer.byteLength === deflated.byteLength &&
        deflated.byteLength > BUFFER_POOL_SIZE));
  // (`Buffer#slice` is a view: `new Uint8Array` is what copies.)
  const out = owned
    ? new Uint8Array((deflated.buffer as ArrayBuffer).transfer(deflated.byteLength))
    : new Uint8Array(deflated);
  post({ id, out, block }, [out.buffer as ArrayBuffer, block.buffer as ArrayBuffer]);
}

/** Compresses a small piece on its own: ended by a sync flush, or by the final block. */
function compressPiece(id: number, bytes: Uint8Array, level: number, final: boolean): void {
  const deflated = deflateRaw(bytes, {
    level,
    finishFlush: final ? constants.Z_FINISH : constants.Z_SYNC_FLUSH,
    chunkSize: outputRoom(bytes.length),
  });
  // Copied: a small output may lie in Buffer's shared pool.
  const out = new Uint8Array(deflated);
  post({ id, out, crc: crc32(bytes) >>> 0 }, [out.buffer as ArrayBuffer]);
}

globalThis.addEventListener("message", (event: Event) => {
  const message = (event as MessageEvent).data as {
    id: number;
    open?: true;
    level?: number;
    sha256?: boolean;
    block?: Uint8Array;
    length?: number;
    finish?: true;
    close?: true;
    piece?: Uint8Array;
    final?: boolean;
    nice?: number;
  };
  const { id } = message;
  try {
    if (message.nice !== undefined) {
      // Compression as background work: it takes the CPU the server leaves idle.
      lowerThreadPriority(message.nice);
    } else if (message.piece) {
      compressPiece(id, message.piece, message.level!, !!message.final);
    } else if (message.open) {
      streams.set(id, {
        level: message.level!,
        crc: 0,
        size: 0,
        lastOut: 0,
        hash: message.sha256 ? createHash("sha256") : undefined,
      });
    } else if (message.block) {
      compress(id, message.block, message.length!);
    } else if (message.finish) {
      const stream = streams.get(id);
      streams.delete(id);
      if (stream) {
        const done: { size: number; crc32: number; sha256?: string } = {
          size: stream.size,
          crc32: stream.crc >>> 0,
        };
        if (stream.hash) done.sha256 = stream.hash.digest("hex");
        post({ id, done });
      }
    } else if (message.close) {
      streams.delete(id);
    }
  } catch (error) {
    streams.delete(id);
    post({ id, error: (error as Error)?.message ?? String(error) });
  }
});
