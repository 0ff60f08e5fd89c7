/**
 * Include and exclude patterns applied to a list of tables: includes (`-e`/`-i`, none = all),
 * then excludes (`--exclude`), which win.
 *
 * @module
 */

import { type NamePattern, patternMatches } from "./pattern.ts";

/** A table name. */
export interface TableRef {
  db: string;
  table: string;
}

/** What {@link filterTables} chose, and which patterns matched nothing. */
export interface FilterResult<T extends TableRef> {
  /** The tables kept, in input order. */
  tables: T[];
  /** Include patterns that matched no table (an error for the caller). */
  unmatchedIncludes: NamePattern[];
  /** Exclude patterns that matched no included table (a warning for the caller). */
  unmatchedExcludes: NamePattern[];
}

/**
 * Keeps the tables some include covers (every table when `includes` is empty) and no exclude
 * covers.
 *
 * @example
 * ```ts
 * import { parsePattern } from "./pattern.ts";
 * filterTables(
 *   [{ db: "a", table: "x" }, { db: "a", table: "y" }],
 *   [parsePattern("a", "-e")],
 *   [parsePattern("a.y", "--exclude")],
 * ).tables; // [{ db: "a", table: "x" }]
 * ```
 */
export function filterTables<T extends TableRef>(
  all: T[],
  includes: NamePattern[],
  excludes: NamePattern[],
): FilterResult<T> {
  const included = includes.length === 0
    ? all
    : all.filter((t) => includes.some((p) => patternMatches(p, t.db, t.table)));
  return {
    tables: included.filter((t) => !excludes.some((p) => patternMatches(p, t.db, t.table))),
    unmatchedIncludes: includes.filter((p) => !all.some((t) => patternMatches(p, t.db, t.table))),
    unmatchedExcludes: excludes.filter((p) =>
      !included.some((t) => patternMatches(p, t.db, t.table))
    ),
  };
}
