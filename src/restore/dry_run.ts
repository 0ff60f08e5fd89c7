/**
 * `restore --dry-run`: scan the archive, list the server's tables, and report the plan without
 * writing anything.
 *
 * @module
 */

import { connect } from "../connection/driver.ts";
import type { RestoreOptions } from "./options.ts";
import { dryRunExitCode, formatPlan, planPrescanned } from "./plan.ts";
import { prescanArchive } from "../inspect/prescan.ts";
import { openArchive } from "./source.ts";

/**
 * Plans the restore `options` describe and returns the report lines and the exit code a
 * `--dry-run` ends with (1 when the real run would refuse).
 *
 * @example
 * ```ts
 * const { lines, exitCode } = await dryRunRestore({ connect, archive: "backup.tar.gz" });
 * ```
 */
export async function dryRunRestore(
  options: RestoreOptions & { input?: ReadableStream<Uint8Array> },
): Promise<{ lines: string[]; exitCode: 0 | 1 }> {
  const catalog = await prescanArchive(await openArchive(options.archive, options.input));
  const conn = await connect(options.connect);
  let existing: Set<string>;
  try {
    existing = new Set((await conn.listTables()).map((t) => `${t.db}.${t.table}`));
  } finally {
    await conn.close();
  }
  const plan = planPrescanned(catalog, options, existing);
  plan.warnings.unshift(...catalog.warnings);
  // A damaged archive would stop the real run before it writes anything.
  plan.refusals.push(...catalog.problems);
  return { lines: formatPlan(plan), exitCode: dryRunExitCode(plan) };
}
