/**
 * Writes a `.tar.gz` dump archive as a stream: regular-file entries only, in the order they are
 * added, in one gzip member. Entry bodies are compressed in worker threads (see
 * {@link DeflatePool}); a body may also be compressed ahead, while its bytes are still being
 * produced, and added once its size is known ({@link ArchiveWriter.deflate} then
 * {@link ArchiveWriter.addDeflated}): that is how a dump compresses a table while reading it.
 *
 * @module
 */

import { BackupError, firstLine } from "../errors.ts";
import {
  type DeflatedBody,
  DeflatePool,
  type DeflateStream,
  type DeflateStreamOptions,
} from "./deflate_pool.ts";
import { ArchiveError } from "./errors.ts";
import { DEFAULT_COMPRESSION_LEVEL, GzipMember } from "./gzip_member.ts";
import { TAR_END, tarHeader, tarPadding } from "./tar_header.ts";

/** Options of {@link ArchiveWriter.create}. */
export interface ArchiveWriterOptions {
  /** Modification time written in each entry's header; default: the time the entry is added. */
  mtime?: Date;
  /** Gzip level, 1 (fastest) to 9 (smallest); default 6. */
  compressionLevel?: number;
  /** Compression workers, at most; default 1. */
  workers?: number;
  /**
   * Compression workers started earlier (so that their start-up overlapped other work), used
   * instead of new ones; their level is the archive's. The writer stops them when it ends.
   */
  pool?: DeflatePool;
}

/** The body of an archive entry: all bytes at once, or a stream of exactly the declared size. */
export type EntryBody = Uint8Array | ReadableStream<Uint8Array>;

/** A body compressed ahead with {@link ArchiveWriter.deflate}. */
export interface DeflatedEntry {
  /** What the stream's `finish()` returned. */
  body: DeflatedBody;
  /** The compressed bytes the stream produced, in order. */
  compressed: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

/** The error thrown by a body stream that produced more bytes than declared. */
function sizeError(path: string, size: number, got: number, more: boolean): ArchiveError {
  return new ArchiveError(
    `${path}: the entry body has ${
      more ? "more than " : ""
    }${got} bytes, but ${size} were declared`,
  );
}

/**
 * A streaming writer of `.tar.gz` archives in the official dump format: one gzip member, each
 * entry a regular file (mode 0644, owner 0:0); paths longer than 100 bytes use the ustar prefix
 * field or a pax header, both read by Python's `tarfile`.
 *
 * Entries may be added from several tasks at once: they are written one after the other, in
 * call order. Memory stays bounded: a body stream is read only as fast as the sink accepts the
 * compressed bytes.
 *
 * A body of the wrong size, a failing body stream or a failing sink breaks the archive: the
 * sink is aborted and every later call rejects. The caller should then delete the output.
 *
 * The sink must be done with a chunk when its `write` resolves, as a file is: a sink that keeps
 * chunks must copy them, since a body added with {@link ArchiveWriter.addDeflated} may reuse or
 * free a chunk's memory once the next one is asked for.
 *
 * @example
 * ```ts
 * import { ArchiveWriter } from "./tar_writer.ts";
 *
 * const file = await Deno.open("dump.tar.gz", { write: true, create: true, truncate: true });
 * const archive = ArchiveWriter.create(file.writable);
 * const info = new TextEncoder().encode('{"primary_key": "id"}\n');
 * await archive.addEntry("rethinkdb_dump_x/db/t.info", info.length, info);
 * await archive.finish(); // closes the file
 * ```
 */
export class ArchiveWriter {
  readonly #sink: WritableStreamDefaultWriter<Uint8Array>;
  readonly #member: GzipMember;
  readonly #pool: DeflatePool;
  readonly #mtime?: Date;
  #tail: Promise<void> = Promise.resolve();
  #failure: { error: unknown } | undefined;
  #sinkError: { error: unknown } | undefined;
  #finishing = false;
  #bodyReader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #bodyStream: DeflateStream | undefined;
  /** Zero bytes owed after the last entry's body (tar pads bodies to 512 bytes). */
  #padding = 0;
  #entries = 0;
  #bytes = 0;

  private constructor(sink: WritableStream<Uint8Array>, options: ArchiveWriterOptions) {
    this.#sink = sink.getWriter();
    this.#sink.closed.catch(() => {});
    const level = options.pool?.level ?? options.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL;
    this.#pool = options.pool ?? new DeflatePool({ level, workers: options.workers });
    this.#member = new GzipMember(
      (bytes) => this.#emit(bytes),
      level,
      (bytes, final) => this.#pool.deflatePiece(bytes, final),
    );
    this.#mtime = options.mtime;
  }

  /**
   * Starts an archive that is gzip-compressed into `sink`.
   *
   * @example
   * ```ts
   * import { ArchiveWriter } from "./tar_writer.ts";
   *
   * const chunks: Uint8Array[] = [];
   * const archive = ArchiveWriter.create(new WritableStream({ write: (c) => void chunks.push(c.slice()) }));
   * await archive.finish();
   * ```
   */
  static create(
    sink: WritableStream<Uint8Array>,
    options: ArchiveWriterOptions = {},
  ): ArchiveWriter {
    return new ArchiveWriter(sink, options);
  }

  /** Entries completely written so far. */
  get entries(): number {
    return this.#entries;
  }

  /** Body bytes (uncompressed) of the entries completely written so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Adds a regular file of `size` bytes at `path`. Resolves when the whole body has been
   * compressed into the sink; calls made while an entry is being written wait their turn.
   *
   * A `Uint8Array` body whose length is not `size` is rejected without harming the archive; a
   * stream body that ends early, runs past `size` or fails breaks the archive (see the class
   * documentation).
   *
   * @example
   * ```ts
   * import { ArchiveWriter } from "./tar_writer.ts";
   *
   * const archive = ArchiveWriter.create(new WritableStream());
   * const spool = await Deno.open("users.json.tmp");
   * const { size } = await spool.stat();
   * await archive.addEntry("rethinkdb_dump_x/league/users.json", size, spool.readable);
   * await archive.finish();
   * ```
   */
  addEntry(path: string, size: number, body: EntryBody): Promise<void> {
    const precheck = this.#precheck(path, size) ??
      (body instanceof Uint8Array && body.length !== size
        ? sizeError(path, size, body.length, false)
        : undefined);
    if (precheck) {
      if (body instanceof ReadableStream) body.cancel(precheck).catch(() => {});
      return Promise.reject(precheck);
    }
    return this.#queue(path, body instanceof ReadableStream ? body : undefined, async () => {
      if (body instanceof Uint8Array) {
        await this.#member.addPlain(this.#headerBytes(path, size, body));
      } else {
        await this.#member.addPlain(this.#headerBytes(path, size));
        await this.#writeStream(path, size, body);
      }
      this.#padding = tarPadding(size);
      this.#entries += 1;
      this.#bytes += size;
    });
  }

  /**
   * Starts compressing a body in a worker before its size is known; once it is finished, add it
   * with {@link addDeflated}. The compressed bytes go to `output` (e.g. a spool file).
   *
   * @example
   * ```ts
   * import { ArchiveWriter } from "./tar_writer.ts";
   *
   * const archive = ArchiveWriter.create(new WritableStream());
   * const compressed: Uint8Array[] = [];
   * const stream = archive.deflate({ output: (chunk) => void compressed.push(chunk) });
   * await stream.write(new TextEncoder().encode("[\n]\n"));
   * const body = await stream.finish();
   * await archive.addDeflated("top/db/t.json", { body, compressed });
   * await archive.finish();
   * ```
   */
  deflate(options: DeflateStreamOptions): DeflateStream {
    if (this.#failure) throw this.#failure.error;
    return this.#pool.open(options);
  }

  /**
   * Adds a regular file whose body was compressed ahead (see {@link deflate}): its header is
   * written, then the compressed bytes go to the sink as they are. The next chunk of
   * `entry.compressed` is asked for only once the sink has written the one before, so its
   * producer may then reuse that chunk's memory.
   */
  addDeflated(path: string, entry: DeflatedEntry): Promise<void> {
    const size = entry.body.size;
    const precheck = this.#precheck(path, size);
    if (precheck) return Promise.reject(precheck);
    return this.#queue(path, undefined, async () => {
      await this.#member.addPlain(this.#headerBytes(path, size));
      for await (const chunk of entry.compressed) {
        if (this.#failure) throw this.#brokenError(path);
        await this.#member.addDeflated(chunk);
      }
      this.#member.addDeflatedSum(size, entry.body.crc32);
      this.#padding = tarPadding(size);
      this.#entries += 1;
      this.#bytes += size;
    });
  }

  #precheck(path: string, size: number): ArchiveError | undefined {
    if (!Number.isSafeInteger(size) || size < 0) {
      return new ArchiveError(`${path}: invalid entry size ${size}`);
    }
    if (path === "" || path.includes("\0")) {
      return new ArchiveError(`${JSON.stringify(path)}: invalid entry path`);
    }
    if (this.#finishing) {
      return new ArchiveError(`${path}: cannot add an entry after finish() or abort()`);
    }
  }

  /** Runs `write` after the entries queued before it; a failure breaks the archive. */
  #queue(
    path: string,
    body: ReadableStream<Uint8Array> | undefined,
    write: () => Promise<void>,
  ): Promise<void> {
    const run = this.#tail.then(async () => {
      if (this.#failure) {
        const error = this.#brokenError(path);
        if (body) await body.cancel(error).catch(() => {});
        throw error;
      }
      try {
        await write();
      } catch (error) {
        const reported = this.#failure
          ? this.#brokenError(path)
          : error instanceof BodyError
          ? error.cause
          : this.#writeError(path, error);
        this.#fail(reported);
        // A body whose reading had not begun (the archive failed while its header was being
        // compressed) is cancelled here; one being read was cancelled by its reader.
        if (body && !body.locked) await body.cancel(reported).catch(() => {});
        throw reported;
      }
    });
    this.#tail = run.catch(() => {});
    return run;
  }

  /** The previous entry's padding, this entry's header and, if given, its whole body. */
  #headerBytes(path: string, size: number, body?: Uint8Array): Uint8Array {
    const header = tarHeader({ path, size, mtime: this.#mtime ?? new Date() });
    const out = new Uint8Array(this.#padding + header.length + (body?.length ?? 0));
    out.set(header, this.#padding);
    if (body) out.set(body, this.#padding + header.length);
    this.#padding = 0;
    return out;
  }

  /** Compresses a body stream in a worker, straight into the sink. */
  async #writeStream(path: string, size: number, body: ReadableStream<Uint8Array>) {
    const stream = this.#pool.open({ output: (chunk) => this.#member.addDeflated(chunk) });
    this.#bodyStream = stream;
    const reader = body.getReader();
    this.#bodyReader = reader;
    let written = 0;
    try {
      while (true) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (error) {
          throw new BodyError(error);
        }
        if (chunk.done) break;
        const bytes = chunk.value;
        if (!(bytes instanceof Uint8Array)) {
          throw new BodyError(new ArchiveError(`${path}: a body chunk is not a Uint8Array`));
        }
        written += bytes.length;
        if (written > size) throw new BodyError(sizeError(path, size, size, true));
        await stream.write(bytes);
      }
      if (written !== size) throw new BodyError(sizeError(path, size, written, false));
      const sum = await stream.finish();
      this.#member.addDeflatedSum(sum.size, sum.crc32);
    } catch (error) {
      stream.abort();
      reader.cancel(error).catch(() => {});
      throw error;
    } finally {
      this.#bodyReader = undefined;
      this.#bodyStream = undefined;
      reader.releaseLock();
    }
  }

  async #emit(bytes: Uint8Array): Promise<void> {
    try {
      await this.#sink.write(bytes);
    } catch (error) {
      this.#sinkError ??= { error };
      throw error;
    }
  }

  /** Maps an error of the gzip/sink side to what the caller should see. */
  #writeError(path: string, error: unknown): unknown {
    const cause = this.#sinkError ? this.#sinkError.error : error;
    if (cause instanceof BackupError) return cause;
    return new ArchiveError(`${path}: cannot write the archive: ${firstLine(cause)}`, { cause });
  }

  #brokenError(path: string): unknown {
    const failure = this.#failure!.error;
    const message = failure instanceof BackupError ? failure.message : firstLine(failure);
    return new ArchiveError(`${path}: not written, the archive failed: ${message}`, {
      cause: failure,
    });
  }

  #fail(error: unknown): void {
    if (this.#failure) return;
    this.#failure = { error };
    this.#bodyStream?.abort();
    this.#pool.close();
    this.#sink.abort(error).catch(() => {});
  }

  /**
   * Ends the archive: waits for the pending entries, writes the end-of-archive marker, flushes
   * gzip and closes the sink. Resolves once every byte has been written to the sink; rejects
   * if an entry or the sink failed.
   *
   * @example
   * ```ts
   * import { ArchiveWriter } from "./tar_writer.ts";
   *
   * const archive = ArchiveWriter.create(new WritableStream());
   * await archive.finish();
   * ```
   */
  async finish(): Promise<void> {
    this.#finishing = true;
    await this.#tail;
    if (this.#failure) throw this.#failure.error;
    try {
      const end = new Uint8Array(this.#padding + TAR_END.length);
      await this.#member.end(end);
      this.#pool.close();
      await this.#sink.close();
    } catch (error) {
      const reported = this.#sinkError?.error ?? error;
      const wrapped = reported instanceof BackupError ? reported : new ArchiveError(
        `cannot write the archive: ${firstLine(reported)}`,
        { cause: reported },
      );
      this.#fail(wrapped);
      throw wrapped;
    }
  }

  /**
   * Abandons the archive: pending and later {@link addEntry} calls reject, body streams not yet
   * read are cancelled, and the sink is aborted with `reason`. Never rejects.
   *
   * @example
   * ```ts
   * import { ArchiveWriter } from "./tar_writer.ts";
   *
   * const archive = ArchiveWriter.create(new WritableStream());
   * await archive.abort(new Error("interrupted"));
   * ```
   */
  async abort(reason?: unknown): Promise<void> {
    this.#finishing = true;
    const error = reason ?? new ArchiveError("the archive was aborted");
    this.#fail(error);
    this.#bodyReader?.cancel(error).catch(() => {});
    await this.#tail;
  }
}

/** An error of a body stream itself, passed on to the caller as it is. */
class BodyError extends Error {
  constructor(override readonly cause: unknown) {
    super("body stream failed");
  }
}
