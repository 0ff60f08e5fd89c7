/**
 * Writes a `.tar.gz` dump archive as a stream: regular-file entries only, in the order they are
 * added, gzip-compressed into a sink.
 *
 * @module
 */

import { createTarPacker } from "npm:modern-tar@0.8.6";
import { BackupError, firstLine } from "../errors.ts";
import { ArchiveError } from "./errors.ts";
import { gzipStream } from "./gzip_stream.ts";

type TarPackerController = ReturnType<typeof createTarPacker>["controller"];

/** Options of {@link ArchiveWriter.create}. */
export interface ArchiveWriterOptions {
  /** Modification time written in each entry's header; default: the time the entry is added. */
  mtime?: Date;
  /** Gzip level, 1 (fastest) to 9 (smallest); default 6. */
  compressionLevel?: number;
}

/** The body of an archive entry: all bytes at once, or a stream of exactly the declared size. */
export type EntryBody = Uint8Array | ReadableStream<Uint8Array>;

/** The error thrown by a body stream that produced more bytes than declared. */
function sizeError(path: string, size: number, got: number, more: boolean): ArchiveError {
  return new ArchiveError(
    `${path}: the entry body has ${
      more ? "more than " : ""
    }${got} bytes, but ${size} were declared`,
  );
}

/**
 * A streaming writer of `.tar.gz` archives in the official dump format (one gzip member, deflated
 * in a worker, see {@link gzipStream}): each entry is a
 * regular file (mode 0644, owner 0:0), paths longer than 100 bytes use the ustar prefix field
 * or a pax header, both read by Python's `tarfile`.
 *
 * Entries may be added from several tasks at once: they are written one after the other, in
 * call order. Memory stays bounded: a body stream is read only as fast as the sink accepts the
 * compressed bytes.
 *
 * A body of the wrong size, a failing body stream or a failing sink breaks the archive: the
 * sink is aborted and every later call rejects. The caller should then delete the output.
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
  readonly #controller: TarPackerController;
  readonly #piped: Promise<void>;
  readonly #mtime?: Date;
  #tail: Promise<void> = Promise.resolve();
  #failure: { error: unknown } | undefined;
  #sinkError: { error: unknown } | undefined;
  #finishing = false;
  #bodyReader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #entries = 0;
  #bytes = 0;

  private constructor(sink: WritableStream<Uint8Array>, options: ArchiveWriterOptions) {
    const { readable, controller } = createTarPacker();
    this.#controller = controller;
    this.#mtime = options.mtime;
    this.#piped = readable
      .pipeThrough(gzipStream(options.compressionLevel))
      .pipeTo(sink)
      .catch((error) => {
        if (!this.#failure) this.#sinkError = { error };
        throw error;
      });
    // The failure is reported by the calls that are affected; avoid an unhandled rejection.
    this.#piped.catch(() => {});
  }

  /**
   * Starts an archive that is gzip-compressed into `sink`.
   *
   * @example
   * ```ts
   * import { ArchiveWriter } from "./tar_writer.ts";
   *
   * const chunks: Uint8Array[] = [];
   * const archive = ArchiveWriter.create(new WritableStream({ write: (c) => void chunks.push(c) }));
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
   * Adds a regular file of `size` bytes at `path`. Resolves when the whole body has been handed
   * to the compressor; calls made while an entry is being written wait their turn.
   *
   * A `Uint8Array` body whose length is not `size` is rejected without harming the archive; a
   * stream body that ends early, runs past `size` or fails breaks the archive (see the class
   * documentation). Chunks of a body stream must not be modified after they are read.
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
    let precheck: ArchiveError | undefined;
    if (!Number.isSafeInteger(size) || size < 0) {
      precheck = new ArchiveError(`${path}: invalid entry size ${size}`);
    } else if (body instanceof Uint8Array && body.length !== size) {
      precheck = sizeError(path, size, body.length, false);
    } else if (path === "" || path.includes("\0")) {
      precheck = new ArchiveError(`${JSON.stringify(path)}: invalid entry path`);
    } else if (this.#finishing) {
      precheck = new ArchiveError(`${path}: cannot add an entry after finish() or abort()`);
    }
    if (precheck) {
      if (body instanceof ReadableStream) body.cancel(precheck).catch(() => {});
      return Promise.reject(precheck);
    }
    const run = this.#tail.then(() => this.#write(path, size, body));
    this.#tail = run.catch(() => {});
    return run;
  }

  async #write(path: string, size: number, body: EntryBody): Promise<void> {
    if (this.#failure) {
      const error = this.#brokenError(path);
      if (body instanceof ReadableStream) await body.cancel(error).catch(() => {});
      throw error;
    }
    let bodyError: { error: unknown } | undefined;
    try {
      const stream = this.#controller.add({
        name: path,
        size,
        type: "file",
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime: this.#mtime ?? new Date(),
      });
      const writer = stream.getWriter();
      if (body instanceof Uint8Array) {
        if (size > 0) await writer.write(body);
      } else {
        const reader = body.getReader();
        this.#bodyReader = reader;
        let written = 0;
        try {
          while (true) {
            let chunk: ReadableStreamReadResult<Uint8Array>;
            try {
              chunk = await reader.read();
            } catch (error) {
              bodyError = { error };
              throw error;
            }
            if (chunk.done) break;
            const bytes = chunk.value;
            if (!(bytes instanceof Uint8Array)) {
              bodyError = { error: new ArchiveError(`${path}: a body chunk is not a Uint8Array`) };
              throw bodyError.error;
            }
            if (bytes.length === 0) continue;
            written += bytes.length;
            if (written > size) {
              bodyError = { error: sizeError(path, size, size, true) };
              throw bodyError.error;
            }
            await writer.write(bytes);
          }
        } catch (error) {
          reader.cancel(error).catch(() => {});
          throw error;
        } finally {
          this.#bodyReader = undefined;
          reader.releaseLock();
        }
        if (written !== size) {
          bodyError = { error: sizeError(path, size, written, false) };
          throw bodyError.error;
        }
      }
      await writer.close();
      this.#entries += 1;
      this.#bytes += size;
    } catch (error) {
      const reported = this.#failure
        ? this.#brokenError(path)
        : bodyError
        ? bodyError.error
        : this.#writeError(path, error);
      this.#fail(reported);
      throw reported;
    }
  }

  /** Maps an error of the tar/gzip/sink side to what the caller should see. */
  #writeError(path: string, error: unknown): unknown {
    const cause = this.#sinkError ? this.#sinkError.error : error;
    if (cause instanceof BackupError) return cause;
    return new ArchiveError(`${path}: cannot write the archive: ${firstLine(cause)}`, { cause });
  }

  #brokenError(path: string): unknown {
    const failure = this.#failure!.error;
    if (failure instanceof BackupError) {
      return new ArchiveError(`${path}: not written, the archive failed: ${failure.message}`, {
        cause: failure,
      });
    }
    return new ArchiveError(`${path}: not written, the archive failed: ${firstLine(failure)}`, {
      cause: failure,
    });
  }

  #fail(error: unknown): void {
    if (this.#failure) return;
    this.#failure = { error };
    try {
      this.#controller.error(error);
    } catch {
      // already stopped
    }
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
      this.#controller.finalize();
      await this.#piped;
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
    await this.#piped.catch(() => {});
  }
}
