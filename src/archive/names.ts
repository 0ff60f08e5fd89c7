/**
 * What RethinkDB accepts as a database or table name, so that an archive or a `--rename` the
 * server would refuse is refused before anything is written. The server's own rule
 * (`name_string_t` in `src/containers/name_string.cc`, 2.4.4): one or more of `A-Z a-z 0-9 _ -`,
 * with no length limit of its own. The system database `rethinkdb` holds the cluster's
 * configuration: nothing is ever dumped from it or restored into it.
 *
 * @module
 */

/**
 * A valid RethinkDB database or table name.
 *
 * @example
 * ```ts
 * import { NAME } from "./names.ts";
 *
 * NAME.test("users_0923"); // true
 * NAME.test("t x!"); // false
 * ```
 */
export const NAME: RegExp = /^[A-Za-z0-9_-]+$/;

/** The system database, which only the server writes. */
export const SYSTEM_DB = "rethinkdb";

/**
 * Why the server would refuse `name` as a database (`kind` `"database"`) or table name, or
 * `undefined` when it is acceptable. A database named {@link SYSTEM_DB} is refused: its tables
 * are the cluster's configuration.
 *
 * @example
 * ```ts
 * import { nameProblem } from "./names.ts";
 *
 * nameProblem("table", "t x!");
 * // 'table name "t x!" is not valid in RethinkDB (use A-Z, a-z, 0-9, _ and - only)'
 * nameProblem("database", "rethinkdb"); // "… is the system database …"
 * nameProblem("table", "users"); // undefined
 * ```
 */
export function nameProblem(kind: "database" | "table", name: string): string | undefined {
  if (!NAME.test(name)) {
    return `${kind} name ${JSON.stringify(name)} is not valid in RethinkDB (use A-Z, a-z, 0-9, _ ` +
      `and - only)`;
  }
  if (kind === "database" && name === SYSTEM_DB) {
    return `\`${SYSTEM_DB}\` is the system database, which holds the cluster's configuration ` +
      `and is never restored`;
  }
  return undefined;
}
