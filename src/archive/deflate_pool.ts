/**
 * Compression off the main thread: a few workers shared by any number of streams (one per table
 * being dumped), so that reading tables and compressing them overlap. A stream is cut into
 * blocks of 1 MiB, each compressed on its own and ended with a sync flush (as pigz does), which
 * lets the archive writer join blocks and streams into one gzip member, and lets the blocks of
 * one stream compress on several workers at once: each block goes to the least busy worker, and
 * the compressed blocks are put back in order here.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { crc32Combine } from "./crc32.ts";

/** What a finished stream's uncompressed bytes were. */
export interface DeflatedBody {
  /** Uncompressed length in bytes. */
  readonly size: number;
  /** CRC-32 of the uncompressed bytes. */
  readonly crc32: number;
  /** SHA-256 (hex) of the uncompressed bytes, when asked for. */
  readonly sha256?: string;
}

/** Options of {@link DeflatePool.open}. */
export interface DeflateStreamOptions {
  /**
   * Receives the compressed bytes, in order. May return a promise: later outputs wait for it
   * (and {@link DeflateStream.finish} waits for the last one); a rejection fails the stream.
   */
  output: (chunk: Uint8Array) => void | Promise<void>;
  /** Also compute the SHA-256 of the uncompressed bytes. */
  sha256?: boolean;
}

/** Uncompressed bytes per block: large enough that a block compressed alone loses < 1%. */
const BLOCK_SIZE = 1024 * 1024;

/** Blocks of a stream in workers at once, at most; also bounds compressed output not yet taken. */
const MAX_BLOCKS_IN_FLIGHT = 4;

/** A worker, how many blocks it has, and why it failed, once it has. */
interface Slot {
  worker: Worker;
  blocks: number;
  failure?: Error;
}

/** A worker's reply for block `seq` of stream `id`. */
interface Reply {
  id: number;
  seq: number;
  out?: Uint8Array;
  block?: Uint8Array;
  crc?: number;
  error?: string;
}

/** Hands a block to a worker; throws when no worker can take it. */
type Dispatch = (message: { id: number; seq: number; block: Uint8Array; length: number }) => void;

/**
 * A pool of compression workers at one level. Workers start on first use (or
 * {@link prestart}) and end with {@link close}.
 *
 * @example
 * ```ts
 * import { DeflatePool } from "./deflate_pool.ts";
 *
 * const pool = new DeflatePool({ level: 6, workers: 2 });
 * const parts: Uint8Array[] = [];
 * const stream = pool.open({ output: (chunk) => void parts.push(chunk) });
 * await stream.write(new TextEncoder().encode("[\n]\n"));
 * const body = await stream.finish(); // { size: 4, crc32: … }
 * pool.close();
 * ```
 */
export class DeflatePool {
  readonly #level: number;
  readonly #size: number;
  readonly #workers: Slot[] = [];
  readonly #streams = new Map<number, DeflateStream>();
  #nextId = 1;
  #closed = false;

  /** `level` is zlib's 1–9; at most `workers` workers run. */
  constructor(options: { level: number; workers?: number }) {
    this.#level = options.level;
    this.#size = Math.max(1, options.workers ?? 1);
  }

  /** zlib's level of every stream. */
  get level(): number {
    return this.#level;
  }

  /**
   * Starts one worker now instead of at the first block: a worker takes some 30 ms to load,
   * which then overlaps whatever the caller does meanwhile.
   */
  prestart(): void {
    if (this.#closed || this.#workers.length > 0) return;
    this.#spawn();
  }

  /** Starts a stream. */
  open(options: DeflateStreamOptions): DeflateStream {
    if (this.#closed) throw new Error("the compression workers were stopped");
    const id = this.#nextId++;
    const stream = new DeflateStream(
      id,
      (message) => this.#dispatch(message),
      options,
      () => this.#streams.delete(id),
    );
    this.#streams.set(id, stream);
    return stream;
  }

  /** Stops every worker; streams still open fail. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const stream of this.#streams.values()) {
      stream.fail(new Error("the compression workers were stopped"));
    }
    for (const { worker } of this.#workers) worker.terminate();
  }

  #dispatch(message: { id: number; seq: number; block: Uint8Array; length: number }): void {
    if (this.#closed) throw new Error("the compression workers were stopped");
    const slot = this.#slot();
    slot.blocks++;
    slot.worker.postMessage({ ...message, level: this.#level }, [
      message.block.buffer as ArrayBuffer,
    ]);
  }

  /** An idle worker, a new one while there are fewer than allowed, else the least busy. */
  #slot(): Slot {
    const working = this.#workers.filter((slot) => !slot.failure);
    const idle = working.find((slot) => slot.blocks === 0);
    if (idle) return idle;
    if (this.#workers.length < this.#size) return this.#spawn();
    if (working.length === 0) throw this.#workers[0].failure!;
    return working.reduce((a, b) => (b.blocks < a.blocks ? b : a));
  }

  #spawn(): Slot {
    const worker = new Worker(new URL("./deflate_worker.ts", import.meta.url).href, {
      type: "module",
    });
    const slot: Slot = { worker, blocks: 0 };
    worker.onmessage = (event: MessageEvent) => {
      slot.blocks--;
      const reply = event.data as Reply;
      this.#streams.get(reply.id)?.receive(reply);
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      slot.failure ??= new Error(`compression worker failed: ${event.message}`);
      // Its blocks are lost, and it is not known whose they were.
      for (const stream of this.#streams.values()) stream.fail(slot.failure);
    };
    this.#workers.push(slot);
    return slot;
  }
}

/**
 * One stream compressed in the workers, block by block (see {@link DeflatePool.open}). Bytes
 * are copied into the current block; writes wait while 4 blocks of this stream are in workers,
 * or 4 MiB of its output wait for `output`, so memory stays bounded. Blocks come back from the
 * workers and are reused. Length and SHA-256 are taken here, in order, as blocks leave; each
 * block's CRC-32 comes back with it and is combined in order.
 */
export class DeflateStream {
  readonly #id: number;
  readonly #dispatchBlock: Dispatch;
  readonly #options: DeflateStreamOptions;
  readonly #release: () => void;
  readonly #hash: Hash | undefined;
  #block: Uint8Array | undefined;
  #filled = 0;
  readonly #spare: Uint8Array[] = [];
  /** Uncompressed length of each block sent and not yet put back in order. */
  readonly #lengths = new Map<number, number>();
  /** Compressed blocks back from workers ahead of their turn. */
  readonly #early = new Map<number, { out: Uint8Array; crc: number }>();
  #sent = 0;
  #emitted = 0;
  #size = 0;
  #crc = 0;
  #blocksInFlight = 0;
  #outputWaiting = 0;
  #wake: (() => void) | undefined;
  #drained: (() => void) | undefined;
  #output: Promise<void> = Promise.resolve();
  #failure: Error | undefined;
  #ended = false;
  #released = false;

  /** Use {@link DeflatePool.open}. */
  constructor(id: number, dispatch: Dispatch, options: DeflateStreamOptions, release: () => void) {
    this.#id = id;
    this.#dispatchBlock = dispatch;
    this.#options = options;
    this.#release = release;
    this.#hash = options.sha256 ? createHash("sha256") : undefined;
  }

  /**
   * Copies `bytes` into the stream without waiting (the caller may reuse them at once); call
   * {@link ready} now and then so that memory stays bounded.
   */
  append(bytes: Uint8Array): void {
    if (this.#failure) throw this.#failure;
    if (this.#ended) throw new Error("write after finish()");
    let from = 0;
    while (from < bytes.length) {
      this.#block ??= this.#spare.pop() ?? new Uint8Array(BLOCK_SIZE);
      const n = Math.min(bytes.length - from, BLOCK_SIZE - this.#filled);
      this.#block.set(n === bytes.length ? bytes : bytes.subarray(from, from + n), this.#filled);
      this.#filled += n;
      from += n;
      if (this.#filled === BLOCK_SIZE) this.#dispatch();
    }
  }

  /** Resolves once there is room for more (rejects if the stream failed). */
  async ready(): Promise<void> {
    while (
      !this.#failure &&
      (this.#blocksInFlight > MAX_BLOCKS_IN_FLIGHT ||
        this.#outputWaiting > MAX_BLOCKS_IN_FLIGHT * BLOCK_SIZE)
    ) {
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
    if (this.#failure) throw this.#failure;
  }

  /** {@link append}, then {@link ready}. */
  async write(bytes: Uint8Array): Promise<void> {
    this.append(bytes);
    await this.ready();
  }

  /** Compresses the last block; resolves once every compressed byte has gone to `output`. */
  async finish(): Promise<DeflatedBody> {
    if (this.#failure) throw this.#failure;
    if (this.#filled > 0) this.#dispatch();
    this.#ended = true;
    if (this.#emitted < this.#sent) {
      await new Promise<void>((resolve) => (this.#drained = resolve));
    }
    await this.#output;
    if (this.#failure) throw this.#failure;
    this.#releaseSlot();
    return { size: this.#size, crc32: this.#crc >>> 0, sha256: this.#hash?.digest("hex") };
  }

  /** Abandons the stream (nothing more is compressed); safe to call at any time. */
  abort(): void {
    if (this.#failure || this.#released) return;
    this.fail(new Error("the compression was abandoned"));
  }

  #dispatch(): void {
    const block = this.#block!;
    const length = this.#filled;
    this.#block = undefined;
    this.#filled = 0;
    this.#hash?.update(block.subarray(0, length));
    this.#size += length;
    const seq = this.#sent++;
    this.#lengths.set(seq, length);
    this.#blocksInFlight++;
    try {
      this.#dispatchBlock({ id: this.#id, seq, block, length });
    } catch (error) {
      this.fail(error);
      throw this.#failure;
    }
  }

  /** @internal Handles a worker's reply for a block of this stream. */
  receive(reply: Reply): void {
    if (this.#failure) return;
    if (reply.error !== undefined) {
      this.fail(new Error(`compression failed: ${reply.error}`));
      return;
    }
    this.#blocksInFlight--;
    if (this.#spare.length < MAX_BLOCKS_IN_FLIGHT) this.#spare.push(reply.block!);
    // Counted from now: a block that waits for its turn holds memory too.
    this.#outputWaiting += reply.out!.length;
    this.#early.set(reply.seq, { out: reply.out!, crc: reply.crc! });
    for (let next = this.#early.get(this.#emitted); next; next = this.#early.get(this.#emitted)) {
      this.#early.delete(this.#emitted);
      this.#emit(next.out, next.crc, this.#lengths.get(this.#emitted)!);
      this.#lengths.delete(this.#emitted);
      this.#emitted++;
    }
    if (this.#ended && this.#emitted === this.#sent) this.#drained?.();
    this.#wake?.();
  }

  #emit(out: Uint8Array, crc: number, length: number): void {
    this.#crc = crc32Combine(this.#crc, crc, length);
    // Taken now: the output may keep the chunk, or free it (a spool does once it is on disk).
    const size = out.length;
    this.#output = this.#output
      .then(() => this.#failure ? undefined : this.#options.output(out))
      .then(() => {
        this.#outputWaiting -= size;
        this.#wake?.();
      })
      .catch((error) => this.fail(error));
  }

  /** @internal Fails the stream: pending and later calls reject with `error`. */
  fail(error: unknown): void {
    if (this.#failure) return;
    this.#failure = error instanceof Error ? error : new Error(String(error));
    this.#early.clear();
    this.#releaseSlot();
    this.#wake?.();
    this.#drained?.();
  }

  #releaseSlot(): void {
    if (!this.#released) this.#release();
    this.#released = true;
  }
}
