/**
 * Version information printed by `--version`.
 *
 * @module
 */

/** This tool's version. */
export const VERSION = "0.1.0";

/** How this build talks to RethinkDB. */
export const DRIVER = "built-in (wire protocol V1_0)";

/**
 * The `--version` text: the tool, the Deno runtime and the driver, one per line.
 *
 * @example
 * ```ts
 * console.log(versionText());
 * ```
 */
export function versionText(): string {
  return [
    `rethinkdb-backup ${VERSION}`,
    `deno ${Deno.version.deno} (v8 ${Deno.version.v8}, typescript ${Deno.version.typescript})`,
    `driver ${DRIVER}`,
  ].join("\n");
}
