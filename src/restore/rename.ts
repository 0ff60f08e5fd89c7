/**
 * `--rename FROM=TO`: restore a database or table under another name. Both sides are `DB`, or
 * both are `DB.TABLE`; a table rename wins over its database's rename.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { NAME, nameProblem } from "../archive/names.ts";

/** One parsed `--rename`. */
export interface Rename {
  from: { db: string; table?: string };
  to: { db: string; table?: string };
  /** The text as given, for messages. */
  text: string;
}

function parseName(side: string, text: string): { db: string; table?: string } {
  const [db, table, extra] = side.split(".");
  if (
    extra !== undefined || !NAME.test(db ?? "") || (table !== undefined && !NAME.test(table))
  ) {
    throw new UsageError(
      `invalid --rename value \`${text}\`: \`${side}\` is not DB or DB.TABLE (letters, digits, _ and -; no wildcards)`,
    );
  }
  return table === undefined ? { db } : { db, table };
}

/**
 * Parses `--rename` values.
 *
 * @example
 * ```ts
 * parseRenames(["league=league_restored", "league.users=staging.users_0923"]);
 * ```
 */
export function parseRenames(values: string[]): Rename[] {
  return values.map((text) => {
    const eq = text.indexOf("=");
    if (eq < 0) {
      throw new UsageError(
        `invalid --rename value \`${text}\`: expected FROM=TO (DB=DB or DB.TABLE=DB.TABLE)`,
      );
    }
    const from = parseName(text.slice(0, eq), text);
    const to = parseName(text.slice(eq + 1), text);
    if ((from.table === undefined) !== (to.table === undefined)) {
      throw new UsageError(
        `invalid --rename value \`${text}\`: rename a DB to a DB or a DB.TABLE to a DB.TABLE`,
      );
    }
    const refused = nameProblem("database", to.db);
    if (refused !== undefined) {
      throw new UsageError(`invalid --rename value \`${text}\`: ${refused}`);
    }
    return { from, to, text };
  });
}

/**
 * Where `db.table` goes: a table rename for it, else its database's rename, else unchanged.
 *
 * @example
 * ```ts
 * targetOf(parseRenames(["league=l2"]), "league", "users"); // { db: "l2", table: "users" }
 * ```
 */
export function targetOf(
  renames: Rename[],
  db: string,
  table: string,
): { db: string; table: string } {
  const exact = renames.find((r) => r.from.db === db && r.from.table === table);
  if (exact) return { db: exact.to.db, table: exact.to.table! };
  const whole = renames.find((r) => r.from.db === db && r.from.table === undefined);
  return whole ? { db: whole.to.db, table } : { db, table };
}
