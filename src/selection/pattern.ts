/**
 * `DB` / `DB.TABLE` name patterns with `*` (any run of characters) and `?` (one character) in
 * either part, as `-e`, `-i` and `--exclude` take them.
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** One parsed pattern: a database part and, for `DB.TABLE`, a table part. */
export interface NamePattern {
  /** The database part, possibly with `*` / `?`. */
  db: string;
  /** The table part; absent for a whole database. */
  table?: string;
  /** The text as given, for messages. */
  text: string;
}

const PART = /^[A-Za-z0-9_*?-]+$/;

/**
 * Parses `DB` or `DB.TABLE` (RethinkDB names cannot contain dots). `flag` names the option in
 * errors.
 *
 * @example
 * ```ts
 * parsePattern("league.*", "-e"); // { db: "league", table: "*", text: "league.*" }
 * ```
 */
export function parsePattern(text: string, flag: string): NamePattern {
  const [db, table, extra] = text.split(".");
  if (
    !db || table === "" || extra !== undefined || !PART.test(db) ||
    (table !== undefined && !PART.test(table))
  ) {
    throw new UsageError(
      `invalid ${flag} value \`${text}\`; expected DB or DB.TABLE (letters, digits, _ and -; * and ? as wildcards)`,
    );
  }
  return table === undefined ? { db, text } : { db, table, text };
}

/**
 * True when `text` has a wildcard.
 *
 * @example
 * ```ts
 * hasWildcard("logs_*"); // true
 * ```
 */
export function hasWildcard(text: string): boolean {
  return text.includes("*") || text.includes("?");
}

/**
 * True when the glob `pattern` (`*`, `?`) matches all of `name`.
 *
 * @example
 * ```ts
 * globMatches("logs_2026_*", "logs_2026_01"); // true
 * globMatches("t?", "t10"); // false
 * ```
 */
export function globMatches(pattern: string, name: string): boolean {
  if (!hasWildcard(pattern)) return pattern === name;
  const source = pattern.replace(/[*?]/g, (c) => (c === "*" ? ".*" : "."));
  // Only names' characters and wildcards pass parsePattern, so nothing else needs escaping
  // except `-`, which is literal outside a character class.
  return new RegExp(`^${source}$`).test(name);
}

/**
 * True when `pattern` covers table `db.table`.
 *
 * @example
 * ```ts
 * patternMatches(parsePattern("*.users", "-i"), "league", "users"); // true
 * ```
 */
export function patternMatches(pattern: NamePattern, db: string, table: string): boolean {
  return globMatches(pattern.db, db) &&
    (pattern.table === undefined || globMatches(pattern.table, table));
}
