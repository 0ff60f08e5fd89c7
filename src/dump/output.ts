/**
 * Where the archive goes: a file, written under a temporary name beside the target and renamed
 * only once complete, or stdout (`-f -`).
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { BackupError } from "../errors.ts";
import { describeFsError } from "./fs_errors.ts";

/** An archive destination being written. */
export interface Output {
  /** The final path, or `-` for stdout. */
  readonly name: string;
  /** Where the archive bytes go. */
  readonly sink: WritableStream<Uint8Array>;
  /** Makes the finished archive visible under its final name (after the sink is closed). */
  commit(): Promise<void>;
  /** Deletes what was written (nothing to do for stdout); safe to call twice. */
  discard(): Promise<void>;
}

/**
 * Checks that the archive may be written at `file` and returns its absolute path: the
 * directory exists, and the file does not unless `overwrite` (a directory never qualifies).
 *
 * @example
 * ```ts
 * const path = await checkTarget("backup.tar.gz", false); // "/home/me/backup.tar.gz"
 * ```
 */
export async function checkTarget(file: string, overwrite: boolean): Promise<string> {
  const path = resolve(file);
  let existing: Deno.FileInfo | undefined;
  try {
    existing = await Deno.stat(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      throw describeFsError(error, "write", path, "output");
    }
  }
  if (existing?.isDirectory) {
    throw new BackupError(`output ${path} is a directory; give a file name with -f`);
  }
  if (existing && !overwrite) throw outputExists(path);
  const dir = dirname(path);
  try {
    const info = await Deno.stat(dir);
    if (!info.isDirectory) throw new Deno.errors.NotFound();
  } catch (error) {
    throw describeFsError(error, "write", path, "output");
  }
  return path;
}

function outputExists(path: string): BackupError {
  return new BackupError(
    `output file ${path} already exists; add --overwrite-file to replace it or choose another -f`,
  );
}

/**
 * Opens the archive file for `path` (from {@link checkTarget}) under a temporary name in the
 * same directory, so the final name appears only by an atomic rename.
 *
 * @example
 * ```ts
 * const output = await openFileOutput("/tmp/backup.tar.gz", false);
 * await output.sink.getWriter().close();
 * await output.commit();
 * ```
 */
export async function openFileOutput(path: string, overwrite: boolean): Promise<Output> {
  const dir = dirname(path);
  const base = path.slice(dir.length + 1);
  const temp = `${dir}/.${base}.${crypto.randomUUID().slice(0, 8)}.part`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(temp, { write: true, createNew: true });
  } catch (error) {
    throw describeFsError(error, "write", path, "output");
  }
  let open = true;
  const closeFile = () => {
    if (open) file.close();
    open = false;
  };
  const sink = new WritableStream<Uint8Array>({
    async write(chunk) {
      try {
        let written = 0;
        while (written < chunk.byteLength) written += await file.write(chunk.subarray(written));
      } catch (error) {
        throw describeFsError(error, "write", path, "output");
      }
    },
    async close() {
      try {
        // On disk before the rename, so a crash never leaves a truncated file under the name.
        await file.syncData();
      } catch (error) {
        throw describeFsError(error, "write", path, "output");
      } finally {
        closeFile();
      }
    },
    abort() {
      closeFile();
    },
  });
  let discarded = false;
  return {
    name: path,
    sink,
    async commit() {
      closeFile();
      await publish(temp, path, overwrite);
    },
    async discard() {
      closeFile();
      if (discarded) return;
      discarded = true;
      await Deno.remove(temp).catch(() => {});
    },
  };
}

/** Moves `temp` to `path`; without `overwrite`, never replaces a file created meanwhile. */
async function publish(temp: string, path: string, overwrite: boolean): Promise<void> {
  try {
    if (overwrite) {
      await Deno.rename(temp, path);
      return;
    }
    try {
      // A hard link fails if the name is taken, unlike rename.
      await Deno.link(temp, path);
      await Deno.remove(temp);
      return;
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) throw outputExists(path);
      // File systems without hard links: check, then rename.
    }
    if (await exists(path)) throw outputExists(path);
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw describeFsError(error, "rename the finished archive to", path, "output");
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes the archive to stdout (or to `stream`, for tests) without closing it afterwards.
 *
 * @example
 * ```ts
 * const output = stdoutOutput();
 * ```
 */
export function stdoutOutput(stream?: WritableStream<Uint8Array>): Output {
  const sink = stream ?? new WritableStream<Uint8Array>({
    async write(chunk) {
      let written = 0;
      try {
        while (written < chunk.byteLength) {
          written += await Deno.stdout.write(chunk.subarray(written));
        }
      } catch (error) {
        throw new BackupError(
          `cannot write the archive to stdout: ${
            error instanceof Deno.errors.BrokenPipe
              ? "the reading process exited"
              : String((error as Error)?.message ?? error).split("\n")[0]
          }; check the command that reads it`,
          undefined,
          { cause: error },
        );
      }
    },
  });
  return {
    name: "-",
    sink,
    commit: () => Promise.resolve(),
    discard: () => Promise.resolve(),
  };
}
