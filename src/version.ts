/**
 * Version information printed by `--version`.
 *
 * @module
 */

import { type BuildKind, buildKind } from "./build.ts";

/** This tool's version. */
export const VERSION = "0.1.0";

/** How this build talks to RethinkDB. */
export const DRIVER = "built-in (wire protocol V1_0)";

/** How `--version` names each build, so that an operator knows which file they run. */
const BUILD_NAMES: Record<BuildKind, string> = {
  executable: "executable (deno compile)",
  bundle: "single JavaScript file (deno task bundle)",
  source: "source (mod.ts)",
};

/**
 * The `--version` text: the tool, which build it is, the Deno runtime and the driver, one per
 * line.
 *
 * @example
 * ```ts
 * console.log(versionText());
 * // rethinkdb-backup 0.1.0
 * // build source (mod.ts)
 * // deno 2.9.6 (v8 …, typescript …)
 * // driver built-in (wire protocol V1_0)
 * ```
 */
export function versionText(): string {
  return [
    `rethinkdb-backup ${VERSION}`,
    `build ${BUILD_NAMES[buildKind()]}`,
    `deno ${Deno.version.deno} (v8 ${Deno.version.v8}, typescript ${Deno.version.typescript})`,
    `driver ${DRIVER}`,
  ].join("\n");
}
