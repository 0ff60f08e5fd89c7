/**
 * Where a table's `.json` bytes wait while the table is read. A tar entry needs its size before
 * its bytes, so a table cannot go straight into the archive; it is collected here first: in
 * memory while small, in a file under the temp directory once it grows past a limit. The file
 * is deleted as soon as the entry is in the archive.
 *
 * @module
 */

import { describeFsError } from "./fs_errors.ts";

/**
 * Bytes a spool keeps in memory before moving to a file (per table in flight). Compressed, this
 * is a table of some 20 MB of JSON; a larger one gains nothing from memory, and at 8 MiB the
 * spool was most of what a 1M-document dump's RSS had over a 100k one's.
 */
export const DEFAULT_MEMORY_LIMIT = 2 * 1024 * 1024;

/** Writes to the spool file are gathered into blocks of about this size (fewer syscalls). */
const WRITE_BLOCK = 1024 * 1024;

/** Reads of the spool file use blocks of this size. */
const READ_BLOCK = 1024 * 1024;

/**
 * A table's bytes, in memory or in a temp file.
 *
 * @example
 * ```ts
 * const spool = new Spool(`${dir}/league.users.spool`);
 * await spool.write(new TextEncoder().encode("[\n]\n"));
 * await spool.finish();
 * for await (const chunk of spool.chunks()) sink.write(chunk);
 * await spool.remove();
 * ```
 */
export class Spool {
  readonly #path: string;
  readonly #memoryLimit: number;
  /** Chunks not yet in the file (all of them while in memory). */
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  /** Where pending chunks are gathered for one write to the file; allocated once. */
  #writeBlock: Uint8Array | undefined;
  #file: Deno.FsFile | undefined;
  #size = 0;
  #spilled = false;
  #removed = false;
  /** Called once, when the spool is removed. */
  onRemove: (() => void) | undefined;

  /** `path` is where the file goes if the bytes outgrow `memoryLimit`. */
  constructor(path: string, memoryLimit = DEFAULT_MEMORY_LIMIT) {
    this.#path = path;
    this.#memoryLimit = memoryLimit;
  }

  /** Bytes written so far. */
  get size(): number {
    return this.#size;
  }

  /** Whether the bytes went to a file (false: all in memory). */
  get onDisk(): boolean {
    return this.#spilled;
  }

  /** The spool file's path (it exists only once {@link onDisk}). */
  get path(): string {
    return this.#path;
  }

  /**
   * Appends bytes. The spool keeps `chunk`; the caller must not use it afterwards: once in the
   * file, a chunk that spans its whole buffer is freed at once.
   */
  async write(chunk: Uint8Array): Promise<void> {
    if (chunk.byteLength === 0) return;
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.byteLength;
    this.#size += chunk.byteLength;
    if (this.#file) {
      if (this.#pendingBytes >= WRITE_BLOCK) await this.#flush();
    } else if (this.#size > this.#memoryLimit) {
      this.#file = await this.#open();
      this.#spilled = true;
      await this.#flush();
    }
  }

  /**
   * Moves bytes held in memory to the file now and closes it: for a spool that waits long (a
   * table read before the cut of a point-in-time dump), so that waiting costs disk, not memory.
   */
  async spill(): Promise<void> {
    if (this.#spilled || this.#size === 0) return;
    this.#file = await this.#open();
    this.#spilled = true;
    await this.finish();
  }

  /** Writes out what is still buffered; call once the table is read. */
  async finish(): Promise<void> {
    if (!this.#file) return;
    await this.#flush();
    this.#file.close();
    this.#file = undefined;
  }

  /**
   * The bytes, in order, in chunks of up to 1 MiB. A chunk is valid until the next one is asked
   * for: its memory is then reused or freed, so a long table read back leaves nothing for the
   * collector (which, on this small heap, comes late: 1 MiB blocks left to it were 16 MB of a
   * 1M-document dump's peak RSS). A consumer that keeps a chunk must copy it.
   */
  async *chunks(): AsyncGenerator<Uint8Array> {
    if (!this.#spilled) {
      for (const chunk of this.#pending) {
        yield chunk;
        free(chunk);
      }
      this.#pending = [];
      return;
    }
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.#path, { read: true });
    } catch (error) {
      throw describeFsError(error, "read the spool file", this.#path, "temp");
    }
    try {
      const block = new Uint8Array(Math.min(READ_BLOCK, this.#size));
      let left = this.#size;
      while (left > 0) {
        const want = Math.min(block.byteLength, left);
        let filled = 0;
        while (filled < want) {
          const n = await file.read(block.subarray(filled, want));
          if (n === null) {
            throw describeFsError(
              new Error("the file is shorter than what was written"),
              "read the spool file",
              this.#path,
              "temp",
            );
          }
          filled += n;
        }
        left -= filled;
        yield block.subarray(0, filled);
      }
    } finally {
      file.close();
    }
  }

  /** Frees the memory and deletes the file; safe to call twice. */
  async remove(): Promise<void> {
    const onRemove = this.onRemove;
    this.onRemove = undefined;
    onRemove?.();
    this.#pending = [];
    this.#pendingBytes = 0;
    if (this.#file) {
      try {
        this.#file.close();
      } catch {
        // Already closed after a failed write.
      }
      this.#file = undefined;
    }
    if (this.#removed || !this.#spilled) return;
    this.#removed = true;
    try {
      await Deno.remove(this.#path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  async #open(): Promise<Deno.FsFile> {
    try {
      return await Deno.open(this.#path, { write: true, createNew: true });
    } catch (error) {
      throw describeFsError(error, "create the spool file", this.#path, "temp");
    }
  }

  async #flush(): Promise<void> {
    if (this.#pendingBytes === 0) return;
    const chunks = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    try {
      // Gathered into one reused block of WRITE_BLOCK, for few writes and no new buffer; a
      // chunk at least that large is written as it is.
      this.#writeBlock ??= new Uint8Array(WRITE_BLOCK);
      const block = this.#writeBlock;
      let filled = 0;
      for (const chunk of chunks) {
        if (filled + chunk.byteLength > block.byteLength) {
          await this.#writeAll(block.subarray(0, filled));
          filled = 0;
        }
        if (chunk.byteLength >= block.byteLength) await this.#writeAll(chunk);
        else {
          block.set(chunk, filled);
          filled += chunk.byteLength;
        }
        free(chunk);
      }
      await this.#writeAll(block.subarray(0, filled));
    } catch (error) {
      throw describeFsError(error, "write the spool file", this.#path, "temp");
    }
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    let written = 0;
    while (written < bytes.byteLength) written += await this.#file!.write(bytes.subarray(written));
  }
}

/**
 * Frees a buffer's memory now instead of at the heap's next full collection, which on a long
 * read comes seldom: garbage buffers waiting for it were a fifth of a 1M-document dump's RSS.
 * Only a view of a whole, plain buffer is freed; any other view is left to the collector.
 */
function free(bytes: Uint8Array): void {
  const buffer = bytes.buffer;
  if (!(buffer instanceof ArrayBuffer) || buffer.resizable || buffer.detached) return;
  if (bytes.byteOffset !== 0 || bytes.byteLength !== buffer.byteLength) return;
  buffer.transfer(0);
}
