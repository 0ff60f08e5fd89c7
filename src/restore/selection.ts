/**
 * `-i DB|DB.TABLE` selections and `--exclude` patterns: which tables of the archive to restore.
 * `*` and `?` are wildcards in either part.
 *
 * @module
 */

import { type NamePattern, parsePattern, patternMatches } from "../selection/pattern.ts";

/** A parsed `-i` (or `--exclude`) value. */
export type Selection = NamePattern;

/**
 * Parses `-i` values (`DB` or `DB.TABLE`, with `*` / `?`; RethinkDB names cannot contain dots).
 *
 * @example
 * ```ts
 * parseSelections(["league", "other.hooks_*"]);
 * ```
 */
export function parseSelections(values: string[], flag = "-i/--import"): Selection[] {
  return values.map((text) => parsePattern(text, flag));
}

/**
 * True when `db.table` is covered by a selection (or none was given) and by no exclude.
 *
 * @example
 * ```ts
 * isSelected(parseSelections(["*.users"]), "league", "users"); // true
 * ```
 */
export function isSelected(
  selections: Selection[],
  db: string,
  table: string,
  excludes: Selection[] = [],
): boolean {
  if (excludes.some((p) => patternMatches(p, db, table))) return false;
  if (selections.length === 0) return true;
  return selections.some((s) => patternMatches(s, db, table));
}

/**
 * The selections that match none of the archive's tables.
 *
 * @example
 * ```ts
 * unmatchedSelections(parseSelections(["nope"]), [{ db: "league", table: "users" }]); // [nope]
 * ```
 */
export function unmatchedSelections(
  selections: Selection[],
  tables: { db: string; table: string }[],
): Selection[] {
  return selections.filter((s) => !tables.some((t) => patternMatches(s, t.db, t.table)));
}
