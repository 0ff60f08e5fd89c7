/**
 * Which tables a dump exports: the `-e DB[.TABLE]` selections (with `*` / `?` wildcards) and
 * `--exclude` patterns resolved against the server, checked before anything is written.
 *
 * @module
 */

import { SYSTEM_DB } from "../archive/names.ts";
import type { TableName } from "../connection/driver.ts";
import { BackupError, UsageError } from "../errors.ts";
import { filterTables } from "../selection/filter.ts";
import {
  globMatches,
  hasWildcard,
  type NamePattern,
  parsePattern,
  patternMatches,
} from "../selection/pattern.ts";

/** One `-e` value, parsed: a whole database, or one table of it; `*` and `?` are wildcards. */
export interface Selection {
  db: string;
  /** Absent for a whole database. */
  table?: string;
}

/** What {@link planTables} needs from a connection. */
export interface Catalog {
  listDatabases(): Promise<string[]>;
  listTables(): Promise<TableName[]>;
}

/**
 * Parses one `-e` value. Database and table names cannot contain `.`, so the first `.`
 * separates them. `*` and `?` are wildcards in either part.
 *
 * @example
 * ```ts
 * parseSelection("league"); // { db: "league" }
 * parseSelection("league.users"); // { db: "league", table: "users" }
 * parseSelection("logs_*"); // { db: "logs_*" }
 * ```
 */
export function parseSelection(text: string, flag = "-e"): Selection {
  const dot = text.indexOf(".");
  const db = dot < 0 ? text : text.slice(0, dot);
  const table = dot < 0 ? undefined : text.slice(dot + 1);
  if (db === "" || table === "") {
    throw new UsageError(`${flag} \`${text}\`: expected DB or DB.TABLE`);
  }
  if (db === SYSTEM_DB && flag === "-e") {
    throw new UsageError(
      `-e \`${text}\`: the system database \`${SYSTEM_DB}\` cannot be dumped; name user databases or tables`,
    );
  }
  const { db: d, table: t } = parsePattern(text, flag);
  return t === undefined ? { db: d } : { db: d, table: t };
}

/**
 * The tables to export, sorted by database then table, each once. With no selections: every
 * table of every user database. `excludes` (`--exclude`) then remove tables, and win over
 * selections. A selected database, table or pattern that matches nothing is an error; an
 * exclude that matches nothing is passed to `warn`. The system database is never selected,
 * not even by `*`.
 *
 * @example
 * ```ts
 * const tables = await planTables(conn, ["league", "other.hooks_*"], ["league.tmp_*"]);
 * // [{ db: "league", table: "empty" }, …, { db: "other", table: "hooks_only" }]
 * ```
 */
export async function planTables(
  catalog: Catalog,
  exports: string[] = [],
  excludes: string[] = [],
  warn: (message: string) => void = () => {},
): Promise<TableName[]> {
  // Parse every value first so a typo is reported without a round trip to the server.
  const includes = exports.map((text) => ({ ...parseSelection(text), text }));
  const exclusions = excludes.map((text) => parsePattern(text, "--exclude"));
  const all = (await catalog.listTables()).filter((t) => t.db !== SYSTEM_DB);
  if (includes.length > 0) {
    const databases = (await catalog.listDatabases()).filter((db) => db !== SYSTEM_DB);
    for (const selection of includes) checkSelection(selection, databases, all);
  }
  const result = filterTables(all, includes, exclusions);
  for (const pattern of result.unmatchedExcludes) {
    warn(`--exclude \`${pattern.text}\` matches no selected table`);
  }
  const chosen = new Map<string, TableName>();
  for (const t of result.tables) chosen.set(`${t.db}.${t.table}`, { db: t.db, table: t.table });
  return [...chosen.values()].sort(compareTables);
}

/** Throws when `selection` names or matches nothing on the server. */
function checkSelection(
  selection: NamePattern,
  databases: string[],
  all: TableName[],
): void {
  const dbs = databases.filter((db) => globMatches(selection.db, db));
  if (dbs.length === 0) {
    throw new BackupError(
      `${hasWildcard(selection.db) ? "no database matches" : "database"} \`${selection.db}\`${
        hasWildcard(selection.db) ? "" : " does not exist"
      }; check -e (databases: ${listNames(databases)})`,
    );
  }
  // An existing database without tables is a valid (empty) selection, as before.
  if (selection.table === undefined) return;
  if (all.some((t) => patternMatches(selection, t.db, t.table))) return;
  const tablesOf = all.filter((t) => dbs.includes(t.db));
  const names = dbs.length === 1
    ? `tables of \`${dbs[0]}\`: ${listNames(tablesOf.map((t) => t.table))}`
    : `tables: ${listNames(tablesOf.map((t) => `${t.db}.${t.table}`))}`;
  throw new BackupError(
    hasWildcard(selection.text)
      ? `-e \`${selection.text}\` matches no table; check -e (${names})`
      : `table \`${selection.db}.${selection.table}\` does not exist; check -e (${names})`,
  );
}
function compareTables(a: TableName, b: TableName): number {
  return a.db < b.db ? -1 : a.db > b.db ? 1 : a.table < b.table ? -1 : a.table > b.table ? 1 : 0;
}

function listNames(names: string[]): string {
  if (names.length === 0) return "none";
  const sorted = [...names].sort();
  const shown = sorted.slice(0, 10).join(", ");
  return sorted.length > 10 ? `${shown}, …` : shown;
}
