/**
 * Compression off the main thread: a few workers, each compressing any number of streams (one
 * per table being dumped), so that reading tables and compressing them overlap, and several
 * tables compress in parallel. A stream is cut into blocks of 1 MiB, each compressed on its own
 * and ended with a sync flush (as pigz does), which lets the archive writer join blocks and
 * streams into one gzip member.
 *
 * @module
 */

import { deflateWorkerUrl } from "../build.ts";

/** What a finished stream's uncompressed bytes were. */
export interface DeflatedBody {
  /** Uncompressed length in bytes. */
  readonly size: number;
  /** CRC-32 of the uncompressed bytes. */
  readonly crc32: number;
  /** SHA-256 (hex) of the uncompressed bytes, when asked for. */
  readonly sha256?: string;
}

/** A piece compressed on its own by {@link DeflatePool.deflatePiece}. */
export interface DeflatedPiece {
  /** Raw deflate, ended by a sync flush or, for a final piece, by the final block. */
  readonly deflated: Uint8Array;
  /** CRC-32 of the uncompressed bytes. */
  readonly crc32: number;
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

/** Blocks of a stream in a worker at once, at most; also bounds compressed output not yet taken. */
const MAX_BLOCKS_IN_FLIGHT = 4;

/**
 * Idle blocks the pool keeps for its next streams. A dump of thousands of small tables opens a
 * stream per table: a fresh 1 MiB block for each was a gigabyte of garbage buffers over the run,
 * which the isolate collects late, and peak memory grew with the number of tables.
 */
const IDLE_BLOCKS = 2 * MAX_BLOCKS_IN_FLIGHT;

/** Where a stream takes its blocks from and gives them back to. */
interface BlockCache {
  take(): Uint8Array;
  give(block: Uint8Array): void;
}

/** What streams and pieces fail with once the pool is closed. */
function stoppedError(): Error {
  return new Error("the compression workers were stopped");
}

/** A piece waiting for its worker. */
interface PendingPiece {
  worker: Worker;
  resolve: (piece: DeflatedPiece) => void;
  reject: (error: Error) => void;
}

/** How a stream takes its worker from the pool, and gives it back. */
interface StreamSlot {
  /** Picks the worker (`large`: the stream fills whole blocks) and opens the stream there. */
  bind(large: boolean): Worker;
  /** The stream is done with its worker (or never took one). */
  release(): void;
}

/** A worker, how many streams it has (and how many of them large), and why it failed. */
interface Slot {
  worker: Worker;
  streams: number;
  large: number;
  failure?: Error;
}

interface Reply {
  id: number;
  crc?: number;
  out?: Uint8Array;
  block?: Uint8Array;
  done?: DeflatedBody;
  error?: string;
}

/**
 * A pool of compression workers at one level. Workers start on first use and end with
 * {@link close}.
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
  readonly #nice: number | undefined;
  readonly #workers: Slot[] = [];
  readonly #streams = new Map<number, DeflateStream>();
  readonly #pieces = new Map<number, PendingPiece>();
  readonly #idle: Uint8Array[] = [];
  #blocksMade = 0;
  readonly #blocks: BlockCache = {
    take: () => this.#idle.pop() ?? (this.#blocksMade++, new Uint8Array(BLOCK_SIZE)),
    give: (block) => {
      if (this.#idle.length < IDLE_BLOCKS) this.#idle.push(block);
    },
  };
  #nextId = 1;
  #closed = false;

  /**
   * `level` is zlib's 1–9; at most `workers` workers run; each worker's thread takes the nice
   * value `nice` where it can (see `./thread_priority.ts`), else keeps the caller's priority.
   */
  constructor(options: { level: number; workers?: number; nice?: number }) {
    this.#level = options.level;
    this.#size = Math.max(1, options.workers ?? 1);
    this.#nice = options.nice;
  }

  /**
   * Blocks allocated so far: with streams one after another, a few, however many streams (a
   * dump of thousands of small tables must not make a block each).
   */
  get blocksMade(): number {
    return this.#blocksMade;
  }

  /** Workers started so far: one for any number of small bodies, more only for large ones. */
  get workers(): number {
    return this.#workers.length;
  }

  /** zlib's level of every stream. */
  get level(): number {
    return this.#level;
  }

  /**
   * Starts one worker now instead of at the first stream: a worker takes some 30 ms to load,
   * which then overlaps whatever the caller does before its first stream.
   */
  prestart(): void {
    if (this.#closed || this.#workers.length > 0) return;
    this.#spawn();
  }

  /**
   * Starts a stream. It takes its worker when it first hands one a block (or finishes): a
   * body of less than a block never needs a worker of its own.
   */
  open(options: DeflateStreamOptions): DeflateStream {
    if (this.#closed) throw stoppedError();
    const id = this.#nextId++;
    let slot: Slot | undefined;
    let isLarge = false;
    const stream = new DeflateStream(id, options, this.#blocks, {
      bind: (large) => {
        slot = this.#slot(large);
        isLarge = large;
        slot.streams++;
        if (large) slot.large++;
        // A worker that failed before this stream (while starting, say) fails it at once.
        if (slot.failure) stream.fail(slot.failure);
        slot.worker.postMessage({ id, open: true, level: this.#level, sha256: !!options.sha256 });
        return slot.worker;
      },
      release: () => {
        this.#streams.delete(id);
        if (slot) slot.streams--;
        if (slot && isLarge) slot.large--;
      },
    });
    this.#streams.set(id, stream);
    return stream;
  }

  /**
   * Compresses `bytes` on its own in a worker: ended by a sync flush, so that it joins the
   * pieces and streams around it, or when `final` by deflate's final block. For small pieces
   * (tar headers, `.info` bodies), which the worker compresses between the blocks of its
   * streams; the main thread then never loads zlib.
   */
  deflatePiece(bytes: Uint8Array, final = false): Promise<DeflatedPiece> {
    if (this.#closed) return Promise.reject(stoppedError());
    const slot = this.#slot(false);
    if (slot.failure) return Promise.reject(slot.failure);
    const id = this.#nextId++;
    return new Promise<DeflatedPiece>((resolve, reject) => {
      this.#pieces.set(id, { worker: slot.worker, resolve, reject });
      slot.worker.postMessage({ id, piece: bytes, level: this.#level, final });
    });
  }

  /** Stops every worker; streams still open fail. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const stopped = stoppedError();
    for (const stream of this.#streams.values()) stream.fail(stopped);
    for (const piece of this.#pieces.values()) piece.reject(stopped);
    this.#pieces.clear();
    for (const { worker } of this.#workers) worker.terminate();
  }

  /**
   * The worker for a stream's first block, or for a piece: an idle one; else, while there is
   * room, a new one for a `large` stream (one that filled a whole block) or when every worker
   * compresses a large stream (a small body would wait behind its blocks); else the least busy.
   * Small bodies share the first worker: each worker costs some 14 MB, and a dump of a
   * thousand small tables kept two busy for nothing.
   */
  #slot(large: boolean): Slot {
    const idle = this.#workers.find((slot) => slot.streams === 0);
    if (idle) return idle;
    const busy = this.#workers.every((slot) => slot.large > 0);
    if (this.#workers.length < this.#size && (large || busy)) return this.#spawn();
    return this.#workers.reduce((a, b) => (b.streams < a.streams ? b : a));
  }

  #spawn(): Slot {
    const worker = new Worker(deflateWorkerUrl(), { type: "module" });
    // Before any work: messages are handled in order.
    if (this.#nice !== undefined) worker.postMessage({ id: 0, nice: this.#nice });
    worker.onmessage = (event: MessageEvent) => {
      const reply = event.data as Reply;
      // Pieces and streams take their ids from one counter.
      if (this.#pieces.has(reply.id)) this.#settlePiece(reply);
      else this.#streams.get(reply.id)?.receive(reply);
    };
    const slot: Slot = { worker, streams: 0, large: 0 };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      const error = new Error(`compression worker failed: ${event.message}`);
      slot.failure ??= error;
      for (const stream of this.#streams.values()) {
        if (stream.worker === worker) stream.fail(error);
      }
      for (const [id, piece] of this.#pieces) {
        if (piece.worker !== worker) continue;
        this.#pieces.delete(id);
        piece.reject(error);
      }
    };
    this.#workers.push(slot);
    return slot;
  }

  #settlePiece(reply: Reply): void {
    const piece = this.#pieces.get(reply.id)!;
    this.#pieces.delete(reply.id);
    if (reply.error !== undefined) piece.reject(new Error(`compression failed: ${reply.error}`));
    else piece.resolve({ deflated: reply.out!, crc32: reply.crc! });
  }
}

/**
 * One stream compressed in a worker, block by block (see {@link DeflatePool.open}). Bytes are
 * copied into the current block; writes wait while 4 blocks of this stream are in the worker,
 * or 4 MiB of its output wait for `output`, so memory stays bounded. Blocks come back from the
 * worker and are reused.
 */
export class DeflateStream {
  readonly #id: number;
  /** The worker this stream runs on, once it has handed one a block. */
  worker: Worker | undefined;
  readonly #options: DeflateStreamOptions;
  readonly #slot: StreamSlot;
  readonly #blocks: BlockCache;
  #block: Uint8Array | undefined;
  #filled = 0;
  #blocksInFlight = 0;
  #outputWaiting = 0;
  #wake: (() => void) | undefined;
  #output: Promise<void> = Promise.resolve();
  #failure: Error | undefined;
  #done: { resolve: (body: DeflatedBody) => void; reject: (error: Error) => void } | undefined;
  #ended = false;
  #released = false;

  /** Use {@link DeflatePool.open}. */
  constructor(id: number, options: DeflateStreamOptions, blocks: BlockCache, slot: StreamSlot) {
    this.#id = id;
    this.#options = options;
    this.#blocks = blocks;
    this.#slot = slot;
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
      this.#block ??= this.#blocks.take();
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
    const worker = this.#worker(false);
    if (this.#failure) throw this.#failure;
    const body = await new Promise<DeflatedBody>((resolve, reject) => {
      this.#done = { resolve, reject };
      worker.postMessage({ id: this.#id, finish: true });
    });
    await this.#output;
    if (this.#failure) throw this.#failure;
    return body;
  }

  /** Abandons the stream (nothing more is compressed); safe to call at any time. */
  abort(): void {
    if (this.#failure || this.#released) return;
    this.worker?.postMessage({ id: this.#id, close: true });
    this.fail(new Error("the compression was abandoned"));
  }

  #dispatch(): void {
    const block = this.#block!;
    this.#blocksInFlight++;
    this.#worker(this.#filled === BLOCK_SIZE).postMessage({
      id: this.#id,
      block,
      length: this.#filled,
    }, [
      block.buffer as ArrayBuffer,
    ]);
    this.#block = undefined;
    this.#filled = 0;
  }

  /** @internal Handles the worker's reply for this stream. */
  receive(reply: Reply): void {
    if (this.#failure) return;
    if (reply.out) {
      const out = reply.out;
      // Taken now: the output may keep the chunk, or free it (a spool does once it is on disk).
      const length = out.length;
      this.#blocksInFlight--;
      if (reply.block) this.#blocks.give(reply.block);
      this.#outputWaiting += length;
      this.#output = this.#output
        .then(() => this.#failure ? undefined : this.#options.output(out))
        .then(() => {
          this.#outputWaiting -= length;
          this.#wake?.();
        })
        .catch((error) => this.fail(error));
      this.#wake?.();
    } else if (reply.done) {
      this.#releaseSlot();
      this.#done?.resolve(reply.done);
    } else if (reply.error !== undefined) {
      this.fail(new Error(`compression failed: ${reply.error}`));
    }
  }

  /** @internal Fails the stream: pending and later calls reject with `error`. */
  fail(error: unknown): void {
    if (this.#failure) return;
    this.#failure = error instanceof Error ? error : new Error(String(error));
    this.#releaseSlot();
    this.#wake?.();
    this.#done?.reject(this.#failure);
  }

  /** The stream's worker, bound now if it has none yet; `large`: it fills whole blocks. */
  #worker(large: boolean): Worker {
    return this.worker ??= this.#slot.bind(large);
  }

  #releaseSlot(): void {
    if (this.#released) return;
    this.#released = true;
    this.#slot.release();
    // A block being filled goes back for the next stream (one in a worker comes back there).
    if (this.#block !== undefined && !this.#ended) this.#blocks.give(this.#block);
    this.#block = undefined;
  }
}
