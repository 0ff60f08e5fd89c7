/**
 * The check a restore runs over an archive file before writing anything: one
 * {@link inspectArchive} pass, reduced to what the restore needs (each table's metadata, which
 * tables have data) and to one error naming every damaged table.
 *
 * @module
 */

import { ArchiveError } from "../archive/errors.ts";
import type { TableMetadata } from "../archive/table_info.ts";
import { allProblems, inspectArchive, type InspectedArchive } from "./catalog.ts";

/** What {@link prescanArchive} found. */
export interface Prescan {
  /** `.info` metadata per `db.table` (valid entries only). */
  infos: Map<string, TableMetadata>;
  /** `db.table` names that have a `.json` entry. */
  data: Set<string>;
  /** Files skipped because they are not table entries, to show once. */
  warnings: string[];
  /**
   * Problems that must stop the restore before it writes: whatever `verify` reports (damage to
   * the archive, its layout or names, a link, an `.info`, a table's data, a table with only one
   * of its entries, a count or SHA-256 that differs from the one recorded).
   */
  problems: string[];
  /** `db.table` of each table with a problem. */
  damagedTables: string[];
  /** The whole inspection, per table: observed count and SHA-256 next to the metadata. */
  archive: InspectedArchive;
}

/**
 * Reads an archive once, fully (gunzip, tar, every `.info` decoded, every `.json` and `.changes`
 * scanned and hashed), keeping only small per-table results.
 *
 * @example
 * ```ts
 * import { prescanArchive, prescanError } from "./prescan.ts";
 *
 * const file = await Deno.open("backup.tar.gz");
 * const scan = await prescanArchive(file.readable);
 * const error = prescanError(scan, "backup.tar.gz");
 * if (error) throw error; // nothing written yet
 * ```
 */
export async function prescanArchive(stream: ReadableStream<Uint8Array>): Promise<Prescan> {
  const archive = await inspectArchive(stream, { mode: "verify" });
  const scan: Prescan = {
    infos: new Map(),
    data: new Set(),
    warnings: archive.warnings,
    problems: allProblems(archive),
    damagedTables: [],
    archive,
  };
  for (const [name, table] of archive.tables) {
    if (table.metadata) scan.infos.set(name, table.metadata);
    if (table.jsonPath !== undefined) scan.data.add(name);
    if (table.problems.length > 0 || table.missingEntry !== undefined) {
      scan.damagedTables.push(name);
    }
  }
  return scan;
}

/**
 * The one-line error to stop a restore with when {@link prescanArchive} found problems, or
 * `undefined` when there are none. It names the damaged tables and the first problem.
 *
 * @example
 * ```ts
 * import { prescanArchive, prescanError } from "./prescan.ts";
 *
 * const file = await Deno.open("backup.tar.gz");
 * const error = prescanError(await prescanArchive(file.readable), "backup.tar.gz");
 * ```
 */
export function prescanError(scan: Prescan, archiveName: string): ArchiveError | undefined {
  if (scan.problems.length === 0) return undefined;
  const tables = scan.damagedTables.length === 0
    ? ""
    : `damaged ${scan.damagedTables.length === 1 ? "table" : "tables"}: ${
      scan.damagedTables.join(", ")
    }; `;
  const more = scan.problems.length > 1 ? ` (and ${scan.problems.length - 1} more)` : "";
  return new ArchiveError(
    `${archiveName}: ${tables}${scan.problems[0]}${more}; nothing was written ` +
      `(run \`rethinkdb-backup verify ${archiveName}\` for every problem)`,
  );
}
