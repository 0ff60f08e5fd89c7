/**
 * Names inside a dump archive: the top-level directory, the entry paths
 * `<top>/<db>/<table>.<ext>`, and the checks a reader applies to them.
 *
 * @module
 */

import { ArchiveError } from "./errors.ts";

/**
 * The file extensions of table entries. `csv` is only ever read, never written; `changes` is a
 * point-in-time dump's change entry (see `./changes.ts`), which the official tools skip.
 */
export type EntryExtension = "json" | "info" | "csv" | "changes";

/** A table entry's path, split into its parts. */
export interface EntryPath {
  /** The top-level directory, e.g. `rethinkdb_dump_2026-11-23T20:07:40`. */
  top: string;
  /** Database name. */
  db: string;
  /** Table name. */
  table: string;
  /** What the entry holds: documents (`json`, `csv`), metadata (`info`) or changes. */
  ext: EntryExtension;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

/**
 * The top-level directory name of an archive made at `now`, in local time like the official
 * tool's `datetime.now()`: `rethinkdb_dump_<YYYY-MM-DD>T<HH:MM:SS>`. On Windows the time's `:`
 * become `-`, as `:` is not allowed in file names there.
 *
 * @example
 * ```ts
 * import { archiveBaseName } from "./layout.ts";
 *
 * archiveBaseName(new Date(2026, 10, 23, 20, 7, 40)); // "rethinkdb_dump_2026-11-23T20:07:40"
 * ```
 */
export function archiveBaseName(now: Date, os: typeof Deno.build.os = Deno.build.os): string {
  const sep = os === "windows" ? "-" : ":";
  const year = String(now.getFullYear()).padStart(4, "0");
  const date = `${year}-${pad2(now.getMonth() + 1)}-${pad2(now.getDate())}`;
  const time = [now.getHours(), now.getMinutes(), now.getSeconds()].map(pad2).join(sep);
  return `rethinkdb_dump_${date}T${time}`;
}

/**
 * The default archive file name for a dump made at `now`: {@link archiveBaseName} + `.tar.gz`.
 *
 * @example
 * ```ts
 * import { defaultArchiveFileName } from "./layout.ts";
 *
 * defaultArchiveFileName(new Date(2026, 10, 23, 20, 7, 40));
 * // "rethinkdb_dump_2026-11-23T20:07:40.tar.gz"
 * ```
 */
export function defaultArchiveFileName(
  now: Date,
  os: typeof Deno.build.os = Deno.build.os,
): string {
  return `${archiveBaseName(now, os)}.tar.gz`;
}

/**
 * The path of a table's entry in the archive: `<top>/<db>/<table>.<ext>`.
 *
 * Throws an {@link ArchiveError} if a part is empty or contains `/`, `\` or NUL.
 *
 * @example
 * ```ts
 * import { entryPath } from "./layout.ts";
 *
 * entryPath("rethinkdb_dump_2026-11-23T20:07:40", "league", "users", "json");
 * // "rethinkdb_dump_2026-11-23T20:07:40/league/users.json"
 * ```
 */
export function entryPath(
  top: string,
  db: string,
  table: string,
  ext: "json" | "info" | "changes",
): string {
  for (const [what, part] of [["top directory", top], ["database", db], ["table", table]]) {
    if (part === "" || part === "." || part === ".." || /[/\\\0]/.test(part)) {
      throw new ArchiveError(`cannot name an archive entry after ${what} ${JSON.stringify(part)}`);
    }
  }
  return `${top}/${db}/${table}.${ext}`;
}

const TABLE_ENTRY = /\.(json|info|csv|changes)$/;

/**
 * Splits an entry path read from an archive into {@link EntryPath}.
 *
 * Leading `./` components are ignored, as is a trailing `/`. Returns `null` for a path that is
 * not a table entry (it should be skipped), and throws an {@link ArchiveError} for a path that
 * is unsafe (absolute, or with a `..` component) or that ends in `.json`, `.info`, `.csv` or
 * `.changes` without being exactly `<top>/<db>/<table>.<ext>`.
 *
 * @example
 * ```ts
 * import { parseEntryPath } from "./layout.ts";
 *
 * parseEntryPath("rethinkdb_dump_2026-11-23T20:07:40/league/users.info");
 * // { top: "rethinkdb_dump_2026-11-23T20:07:40", db: "league", table: "users", ext: "info" }
 * parseEntryPath("rethinkdb_dump_2026-11-23T20:07:40/README"); // null
 * ```
 */
export function parseEntryPath(path: string): EntryPath | null {
  if (path.startsWith("/") || path.startsWith("\\") || /^[A-Za-z]:/.test(path)) {
    throw new ArchiveError(`${path}: absolute path in the archive`);
  }
  if (path.includes("\0")) throw new ArchiveError(`${JSON.stringify(path)}: NUL in an entry path`);
  const parts = path.split("/");
  while (parts.length > 1 && parts[0] === ".") parts.shift();
  if (parts.length > 1 && parts[parts.length - 1] === "") parts.pop();
  if (parts.some((part) => part === ".." || part.split("\\").includes(".."))) {
    throw new ArchiveError(`${path}: ".." in an entry path`);
  }
  const last = parts[parts.length - 1];
  const match = TABLE_ENTRY.exec(last);
  if (!match) return null;
  const ext = match[1] as EntryExtension;
  const table = last.slice(0, -(ext.length + 1));
  if (parts.length !== 3 || table === "" || parts[0] === "" || parts[1] === "") {
    throw new ArchiveError(`${path}: a .${ext} entry must be <top>/<db>/<table>.${ext}`);
  }
  return { top: parts[0], db: parts[1], table, ext };
}

/**
 * Checks that an archive has a single top-level directory, as the official restore requires.
 * Pass the top directory of each table entry and the one seen so far (`undefined` at first);
 * returns the top directory to remember, or throws an {@link ArchiveError} naming the entry.
 *
 * @example
 * ```ts
 * import { checkSingleTop, parseEntryPath } from "./layout.ts";
 *
 * let seenTop: string | undefined;
 * for (const path of ["dump_a/db/t.info", "dump_a/db/t.json"]) {
 *   const entry = parseEntryPath(path);
 *   if (entry) seenTop = checkSingleTop(entry.top, seenTop, path);
 * }
 * ```
 */
export function checkSingleTop(top: string, seenTop: string | undefined, path?: string): string {
  if (seenTop !== undefined && top !== seenTop) {
    throw new ArchiveError(
      `${path ?? top}: a second top-level directory ${JSON.stringify(top)}; ` +
        `the archive already has ${JSON.stringify(seenTop)}`,
    );
  }
  return top;
}
