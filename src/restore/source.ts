/**
 * Where a restore reads its archive from: a file, or stdin for `-`. Its entries are checked by
 * `../inspect/catalog.ts`, as `verify` checks them.
 *
 * @module
 */

import { BackupError } from "../errors.ts";

/**
 * Opens the archive: a file, or stdin for `-` (or `input` when given, for tests).
 *
 * @example
 * ```ts
 * const stream = await openArchive("backup.tar.gz");
 * ```
 */
export async function openArchive(
  archive: string,
  input?: ReadableStream<Uint8Array>,
): Promise<ReadableStream<Uint8Array>> {
  if (archive === "-") return input ?? Deno.stdin.readable;
  try {
    const info = await Deno.stat(archive);
    if (!info.isFile) throw new BackupError(`archive ${archive} is not a file`);
    return (await Deno.open(archive, { read: true })).readable;
  } catch (error) {
    if (error instanceof BackupError) throw error;
    const why = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : "cannot be read";
    throw new BackupError(
      `archive ${archive}: ${why}; give the path of a .tar.gz archive or - for stdin`,
    );
  }
}
