/**
 * `-i DB|DB.TABLE` selections: which tables of the archive to restore.
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** A parsed `-i` value. */
export interface Selection {
  db: string;
  /** Absent for a whole database. */
  table?: string;
  /** The text as given, for messages. */
  text: string;
}

/**
 * Parses `-i` values (`DB` or `DB.TABLE`; RethinkDB names cannot contain dots).
 *
 * @example
 * ```ts
 * parseSelections(["league", "other.hooks_only"]);
 * ```
 */
export function parseSelections(values: string[]): Selection[] {
  return values.map((text) => {
    const [db, table, extra] = text.split(".");
    if (!db || table === "" || extra !== undefined) {
      throw new UsageError(`invalid -i/--import value \`${text}\`; expected DB or DB.TABLE`);
    }
    return table === undefined ? { db, text } : { db, table, text };
  });
}

/** True when no selection was given, or one covers `db.table`. */
export function isSelected(selections: Selection[], db: string, table: string): boolean {
  if (selections.length === 0) return true;
  return selections.some((s) => s.db === db && (s.table === undefined || s.table === table));
}

/** The selections that match none of the archive's tables. */
export function unmatchedSelections(
  selections: Selection[],
  tables: { db: string; table: string }[],
): Selection[] {
  return selections.filter((s) =>
    !tables.some((t) => t.db === s.db && (s.table === undefined || s.table === t.table))
  );
}
