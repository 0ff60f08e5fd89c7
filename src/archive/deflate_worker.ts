/**
 * The worker side of {@link import("./deflate_pool.ts").DeflatePool}: any number of independent
 * raw-deflate streams, each ended by a sync flush (byte-aligned, no final block) so that the
 * archive writer can join it with other pieces into one gzip member. Beside compressing, it
 * computes what the trailer and the dump's record need from the uncompressed bytes: their
 * length, CRC-32 and, when asked, SHA-256.
 *
 * Messages in: `{ open, level, sha256 }`, `{ write, chunk }`, `{ finish }`, `{ close }` (each
 * naming a stream id). Messages out: `{ id, out }` (compressed bytes, transferred),
 * `{ id, consumed }` (input bytes taken in), `{ id, done: { size, crc32, sha256 } }`,
 * `{ id, error }`.
 *
 * @module
 */

import { constants, crc32, createDeflateRaw } from "node:zlib";
import { createHash, type Hash } from "node:crypto";

interface Stream {
  deflate: ReturnType<typeof createDeflateRaw>;
  hash: Hash | undefined;
  crc: number;
  size: number;
}

const streams = new Map<number, Stream>();

function post(message: unknown, transfer: Transferable[] = []): void {
  (globalThis as unknown as Worker).postMessage(message, transfer);
}

function open(id: number, level: number, sha256: boolean): void {
  const deflate = createDeflateRaw({ level });
  const stream: Stream = {
    deflate,
    hash: sha256 ? createHash("sha256") : undefined,
    crc: 0,
    size: 0,
  };
  deflate.on("data", (data: Uint8Array) => {
    // A copy we own, so it can be transferred (zlib may reuse its buffers).
    const out = new Uint8Array(data);
    post({ id, out }, [out.buffer]);
  });
  deflate.on("error", (error: Error) => {
    streams.delete(id);
    post({ id, error: error.message });
  });
  streams.set(id, stream);
}

function write(id: number, chunk: Uint8Array): void {
  const stream = streams.get(id);
  if (!stream) return;
  stream.crc = crc32(chunk, stream.crc);
  stream.hash?.update(chunk);
  stream.size += chunk.byteLength;
  const size = chunk.byteLength;
  stream.deflate.write(chunk, () => post({ id, consumed: size }));
}

function finish(id: number): void {
  const stream = streams.get(id);
  if (!stream) return;
  stream.deflate.flush(constants.Z_SYNC_FLUSH, () => {
    streams.delete(id);
    stream.deflate.close();
    post({
      id,
      done: { size: stream.size, crc32: stream.crc >>> 0, sha256: stream.hash?.digest("hex") },
    });
  });
}

function close(id: number): void {
  streams.get(id)?.deflate.close();
  streams.delete(id);
}

globalThis.addEventListener("message", (event: Event) => {
  const message = (event as MessageEvent).data as {
    id: number;
    open?: true;
    level?: number;
    sha256?: boolean;
    write?: true;
    chunk?: Uint8Array;
    finish?: true;
    close?: true;
  };
  try {
    if (message.open) open(message.id, message.level!, message.sha256 ?? false);
    else if (message.write) write(message.id, message.chunk!);
    else if (message.finish) finish(message.id);
    else if (message.close) close(message.id);
  } catch (error) {
    streams.delete(message.id);
    post({ id: message.id, error: (error as Error)?.message ?? String(error) });
  }
});
