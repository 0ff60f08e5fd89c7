/**
 * What a failed or interrupted restore does with what it created: the tables and databases this
 * run created, and only those, are dropped, so that the same command can simply be run again.
 * Tables that existed before the run are never touched (with `--force` they keep what was
 * written into them, and the summary says so).
 *
 * It runs on a connection of its own: the restore's connections are closed by then, or lost. A
 * `tableCreate` whose connection closed may still complete on the server a moment later, so
 * tables whose creation was in flight are looked for again after a short pause.
 *
 * @module
 */

import type { Connection } from "../connection/driver.ts";
import { firstLine } from "../errors.ts";
import { shortList } from "./ledger.ts";

/** What a restore created, for {@link removeCreated}. */
export interface CreatedByRun {
  /** Tables this run created or was creating, `db.table`. */
  tables: { db: string; table: string }[];
  /** Tables among {@link tables} whose creation had not been answered when the run failed. */
  inFlight: Set<string>;
  /** Databases that did not exist when the run started and that it created tables in. */
  databases: string[];
}

/** What {@link removeCreated} did. */
export interface Removal {
  /** Tables dropped, `db.table`. */
  tables: string[];
  /** Databases dropped. */
  databases: string[];
  /** Set when the removal could not finish: one line, what is left and why. */
  failure?: string;
}

/** Pauses before looking again for tables whose creation was in flight. */
const IN_FLIGHT_RECHECKS_MS = [250, 750];

/**
 * Drops the tables a run created, then each of its new databases that holds no other table.
 *
 * @example
 * ```ts
 * import { connect } from "../connection/driver.ts";
 * import { removeCreated } from "./cleanup.ts";
 *
 * const removal = await removeCreated(() => connect({ host: "localhost", port: 28015 }), {
 *   tables: [{ db: "league", table: "users" }],
 *   inFlight: new Set(),
 *   databases: ["league"],
 * });
 * console.log(removal.tables); // ["league.users"]
 * ```
 */
export async function removeCreated(
  open: () => Promise<Connection>,
  created: CreatedByRun,
): Promise<Removal> {
  const removal: Removal = { tables: [], databases: [] };
  if (created.tables.length === 0 && created.databases.length === 0) return removal;
  let conn: Connection | undefined;
  let left = created.tables.map((t) => `${t.db}.${t.table}`);
  try {
    conn = await open();
    for (const pause of [0, ...IN_FLIGHT_RECHECKS_MS]) {
      if (pause > 0) {
        // Only creations that were still unanswered can appear later.
        left = left.filter((name) => created.inFlight.has(name));
        if (left.length === 0) break;
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
      const present = new Set((await conn.listTables()).map((t) => `${t.db}.${t.table}`));
      for (const name of left.filter((n) => present.has(n))) {
        const dot = name.indexOf(".");
        await dropTable(conn, name.slice(0, dot), name.slice(dot + 1));
        removal.tables.push(name);
      }
      left = left.filter((name) => !present.has(name));
    }
    const databases = new Set(await conn.listDatabases());
    const occupied = new Set((await conn.listTables()).map((t) => t.db));
    for (const db of created.databases) {
      if (!databases.has(db) || occupied.has(db)) continue;
      await conn.dropDatabase(db);
      removal.databases.push(db);
    }
  } catch (error) {
    removal.failure = `could not remove what this restore created (${
      firstLine(error)
    }); drop by hand what is left of: ${
      shortList([
        ...created.tables.map((t) => `${t.db}.${t.table}`).filter((n) =>
          !removal.tables.includes(n)
        ),
        ...created.databases.map((db) => `database ${db}`),
      ])
    }`;
  } finally {
    await conn?.close().catch(() => {});
  }
  return removal;
}

async function dropTable(conn: Connection, db: string, table: string): Promise<void> {
  try {
    await conn.dropTable(db, table);
  } catch (error) {
    // Gone meanwhile: nothing left to remove.
    if (!/does not exist/.test((error as Error).message)) throw error;
  }
}

/**
 * The part of a stopped restore's summary about what it created: removed, kept with
 * `--keep-partial`, or left behind after a failed removal.
 *
 * @example
 * ```ts
 * import { describeRemoval } from "./cleanup.ts";
 *
 * describeRemoval({ tables: ["league.users"], databases: ["league"] });
 * // "removed what this run created: table league.users, database league"
 * ```
 */
export function describeRemoval(removal: Removal): string {
  const parts = [
    ...removal.tables.map((name) => `table ${name}`),
    ...removal.databases.map((db) => `database ${db}`),
  ];
  const removed = parts.length === 0 ? "" : `removed what this run created: ${shortList(parts)}`;
  if (removal.failure === undefined) return removed;
  return removed === "" ? removal.failure : `${removed}; ${removal.failure}`;
}
