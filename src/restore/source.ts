/**
 * The archive as a restore sees it: opened from a path or stdin, its entries checked and
 * classified (table data, table info, skipped). A file archive is also checked in full before a
 * restore writes anything, by `../inspect/prescan.ts`.
 *
 * @module
 */

import {
  type ArchiveEntry,
  ArchiveError,
  checkSingleTop,
  type EntryPath,
  parseEntryPath,
  readArchive,
} from "../archive/mod.ts";
import { BackupError } from "../errors.ts";

/** A classified entry of the archive. */
export type SourceEntry =
  | { kind: "info"; path: EntryPath; entry: ArchiveEntry }
  | { kind: "json"; path: EntryPath; entry: ArchiveEntry }
  | { kind: "skip"; entry: ArchiveEntry; warning?: string };

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

/**
 * Classifies entries and enforces the archive's structure: one top directory, paths
 * `<top>/<db>/<table>.<ext>`, no table's data or info twice. Links and devices are skipped with a
 * warning, as are files of other kinds.
 */
export async function* classifyEntries(
  source: ReadableStream<Uint8Array>,
): AsyncGenerator<SourceEntry> {
  let top: string | undefined;
  const seen = new Set<string>();
  for await (const entry of readArchive(source)) {
    if (entry.type === "directory") {
      yield { kind: "skip", entry };
      continue;
    }
    if (entry.type !== "file") {
      yield { kind: "skip", entry, warning: `skipping ${entry.type} entry ${entry.path}` };
      continue;
    }
    const path = parseEntryPath(entry.path);
    if (path === null) {
      yield { kind: "skip", entry, warning: `skipping unexpected file ${entry.path}` };
      continue;
    }
    top = checkSingleTop(path.top, top, entry.path);
    if (path.ext === "csv") {
      throw new ArchiveError(
        `${entry.path}: CSV table data is not supported by this tool (only JSON, as rethinkdb dump writes); convert it to JSON or load it with rethinkdb import`,
      );
    }
    const key = `${path.db}.${path.table}.${path.ext}`;
    if (seen.has(key)) {
      throw new ArchiveError(
        `${entry.path}: the archive holds table ${path.db}.${path.table}'s .${path.ext} twice; it is not a valid dump`,
      );
    }
    seen.add(key);
    yield { kind: path.ext, path, entry };
  }
}
