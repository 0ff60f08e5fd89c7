/**
 * The structure checks every reader of a dump archive applies to each entry (`verify`, `list`,
 * the pre-scan of `restore FILE` and `restore -` as the entries stream past), reported rather
 * than thrown, so that a check of the whole archive can name every problem it finds:
 *
 * - regular files and directories only: a symbolic or hard link, a device or a FIFO is refused
 *   wherever it is (a dump never writes one, and a link where a table's data belongs would
 *   restore an empty table);
 * - one top directory, table entries exactly `<top>/<db>/<table>.<ext>`, no absolute path and
 *   no `..`;
 * - database and table names the server accepts, never the system database (`./names.ts`);
 * - no table's `.json`, `.info` or `.changes` twice, no CSV data.
 *
 * Other regular files are skipped with a warning, as the official restore skips them.
 *
 * @module
 */

import { ArchiveError } from "./errors.ts";
import { checkSingleTop, type EntryPath, parseEntryPath } from "./layout.ts";
import { nameProblem } from "./names.ts";
import type { ArchiveEntry } from "./tar_reader.ts";

/** What {@link EntryChecker.check} makes of an entry. */
export type CheckedEntry =
  | { kind: "info" | "json" | "changes"; path: EntryPath }
  | { kind: "skip"; warning?: string }
  | { kind: "problem"; problem: string; path?: EntryPath };

/**
 * Checks the entries of one archive, in archive order, remembering what it has seen.
 *
 * @example
 * ```ts
 * import { EntryChecker } from "./entry_check.ts";
 * import { readArchive } from "./tar_reader.ts";
 *
 * const checker = new EntryChecker();
 * const file = await Deno.open("backup.tar.gz");
 * for await (const entry of readArchive(file.readable)) {
 *   const checked = checker.check(entry);
 *   if (checked.kind === "problem") console.error(checked.problem);
 *   await entry.body.cancel();
 * }
 * ```
 */
export class EntryChecker {
  #top: string | undefined;
  #seen = new Set<string>();

  /** The archive's top-level directory, once a table entry has been seen. */
  get top(): string | undefined {
    return this.#top;
  }

  /**
   * Classifies `entry` (only its path and type are looked at; its body is left to the caller).
   *
   * @example
   * ```ts
   * import { EntryChecker } from "./entry_check.ts";
   *
   * const checker = new EntryChecker();
   * checker.check({ path: "top/db/t.info", type: "file" }).kind; // "info"
   * checker.check({ path: "top/db/t.info", type: "file" }).kind; // "problem"
   * ```
   */
  check(entry: Pick<ArchiveEntry, "path" | "type">): CheckedEntry {
    if (entry.type === "directory") return { kind: "skip" };
    if (entry.type !== "file") {
      const what = entry.type === "other" ? "special file (device or FIFO)" : entry.type;
      return {
        kind: "problem",
        problem: `${entry.path}: a ${what} entry, where a dump holds only regular files; ` +
          `it is not a valid dump (extract it and rebuild the archive from regular files)`,
      };
    }
    let path: EntryPath | null;
    try {
      path = parseEntryPath(entry.path);
    } catch (error) {
      if (error instanceof ArchiveError) return { kind: "problem", problem: error.message };
      throw error;
    }
    if (path === null) return { kind: "skip", warning: `skipping unexpected file ${entry.path}` };
    try {
      this.#top = checkSingleTop(path.top, this.#top, entry.path);
    } catch (error) {
      if (error instanceof ArchiveError) return { kind: "problem", problem: error.message, path };
      throw error;
    }
    const badName = nameProblem("database", path.db) ?? nameProblem("table", path.table);
    if (badName !== undefined) {
      return {
        kind: "problem",
        path,
        problem: `${entry.path}: ${badName}; no RethinkDB dump holds it, so it is not a ` +
          `valid dump`,
      };
    }
    if (path.ext === "csv") {
      return {
        kind: "problem",
        path,
        problem: `${entry.path}: CSV table data, which a dump never holds (rethinkdb export ` +
          `writes it); load it with rethinkdb import`,
      };
    }
    const key = `${path.db}.${path.table}.${path.ext}`;
    if (this.#seen.has(key)) {
      return {
        kind: "problem",
        path,
        problem: `${entry.path}: table ${path.db}.${path.table}'s .${path.ext} is in the ` +
          `archive twice; it is not a valid dump`,
      };
    }
    this.#seen.add(key);
    return { kind: path.ext, path };
  }
}

/**
 * The date and time in a top-level directory named `rethinkdb_dump_<date>T<time>` (local time
 * of the dumping machine, no time zone), as `YYYY-MM-DDTHH:MM:SS`; `undefined` for other names.
 *
 * @example
 * ```ts
 * import { archiveDate } from "./entry_check.ts";
 *
 * archiveDate("rethinkdb_dump_2026-11-23T20:07:40"); // "2026-11-23T20:07:40"
 * archiveDate("rethinkdb_dump_2026-11-23T20-07-40"); // "2026-11-23T20:07:40" (Windows)
 * ```
 */
export function archiveDate(top: string): string | undefined {
  const match = /^rethinkdb_dump_(\d{4}-\d{2}-\d{2})T(\d{2})[:-](\d{2})[:-](\d{2})$/.exec(top);
  return match ? `${match[1]}T${match[2]}:${match[3]}:${match[4]}` : undefined;
}
