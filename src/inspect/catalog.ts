/**
 * One streaming pass over a dump archive that checks it and catalogs its tables: gzip and tar
 * integrity, the structure a restore expects, every `.info` decoded, every `.json` scanned
 * (documents counted, each checked for the primary key, SHA-256) and compared with what the
 * `.info` recorded. Memory stays bounded: only small per-table results are kept.
 *
 * It is what `list` and `verify` run, and what a restore can run over a file before writing.
 *
 * @module
 */

import { archiveDate, EntryChecker } from "../archive/entry_check.ts";
import { ArchiveError } from "../archive/errors.ts";
import type { EntryPath } from "../archive/layout.ts";
import { decodeInfo, type TableMetadata } from "../archive/table_info.ts";
import { type ArchiveEntry, readArchive } from "../archive/tar_reader.ts";
import { BackupError } from "../errors.ts";
import { JsonEntryCheck, type ObservedData } from "./json_check.ts";

/** Largest `.info` entry read (a real one is a few kilobytes). */
export const MAX_INFO_BYTES = 16 * 1024 * 1024;

/** What the catalog knows about one table. */
export interface InspectedTable {
  /** Database name. */
  db: string;
  /** Table name. */
  table: string;
  /** The decoded `.info`, if present and valid. */
  metadata?: TableMetadata;
  /** Path of the `.info` entry, if present. */
  infoPath?: string;
  /** Path of the `.json` entry, if present. */
  jsonPath?: string;
  /** Size of the `.json` entry, if present. */
  jsonBytes?: number;
  /** What reading the `.json` entry found (absent when it was not read, or not present). */
  observed?: ObservedData;
  /** One line per problem with the table's data or metadata, each naming the table or entry. */
  problems: string[];
  /**
   * Set when the table has only one of its two entries: one line saying which is missing. A
   * dump always writes both; a restore can still proceed (it skips a table without `.info` and
   * creates an empty one for a `.info` without `.json`).
   */
  missingEntry?: string;
}

/** The result of {@link inspectArchive}. */
export interface InspectedArchive {
  /** The top-level directory, if any table entry was seen. */
  top?: string;
  /** The dump's local date and time from {@link top} (`YYYY-MM-DDTHH:MM:SS`), if it has one. */
  date?: string;
  /** Tables by `db.table`, in the order their first entry appeared. */
  tables: Map<string, InspectedTable>;
  /** Problems not tied to one table (bad paths, a second top directory). */
  problems: string[];
  /** Set when the archive could not be read to its end (gzip or tar damage, truncation). */
  fatal?: string;
  /** Entries skipped (links, files that are not table entries). */
  warnings: string[];
}

/** Options of {@link inspectArchive}. */
export interface InspectOptions {
  /**
   * `"verify"` (default): read every `.json` entry fully. `"list"`: read a `.json` entry only to
   * count its documents when its `.info` has not already given the count.
   */
  mode?: "verify" | "list";
}

/**
 * Every problem of a catalog, one line each: archive-level ones first, then per table.
 *
 * @example
 * ```ts
 * import { allProblems, inspectArchive } from "./catalog.ts";
 *
 * const file = await Deno.open("backup.tar.gz");
 * for (const line of allProblems(await inspectArchive(file.readable))) console.log(line);
 * ```
 */
export function allProblems(catalog: InspectedArchive): string[] {
  const lines = [...catalog.problems];
  if (catalog.fatal !== undefined) lines.push(catalog.fatal);
  for (const table of catalog.tables.values()) {
    lines.push(...table.problems);
    if (table.missingEntry !== undefined) lines.push(table.missingEntry);
  }
  return lines;
}

/**
 * Reads the archive once and returns its {@link InspectedArchive}. Damage that stops the reading
 * (gzip or tar errors, truncation) is reported in `fatal`, not thrown; errors of the source
 * itself (`cannot read the archive: …`) are thrown. Check `allProblems(catalog).length`.
 *
 * @example
 * ```ts
 * import { inspectArchive } from "./catalog.ts";
 *
 * const file = await Deno.open("backup.tar.gz");
 * const catalog = await inspectArchive(file.readable);
 * for (const [name, table] of catalog.tables) {
 *   console.log(name, table.observed?.documents, table.problems);
 * }
 * ```
 */
export async function inspectArchive(
  source: ReadableStream<Uint8Array>,
  options: InspectOptions = {},
): Promise<InspectedArchive> {
  const mode = options.mode ?? "verify";
  const catalog: InspectedArchive = { tables: new Map(), problems: [], warnings: [] };
  const checker = new EntryChecker();
  const tableOf = (path: EntryPath): InspectedTable => {
    const key = `${path.db}.${path.table}`;
    let table = catalog.tables.get(key);
    if (!table) {
      table = { db: path.db, table: path.table, problems: [] };
      catalog.tables.set(key, table);
    }
    return table;
  };
  // Per table, only the small primary-key check function is kept, never the scanner.
  const keyChecks = new Map<InspectedTable, (key: string) => number>();
  let current: InspectedTable | undefined;
  try {
    for await (const entry of readArchive(source)) {
      const checked = checker.check(entry);
      if (checked.kind === "skip" || checked.kind === "problem") {
        if (checked.kind === "skip" && checked.warning) catalog.warnings.push(checked.warning);
        if (checked.kind === "problem") {
          if (checked.path) tableOf(checked.path).problems.push(checked.problem);
          else catalog.problems.push(checked.problem);
        }
        await entry.body.cancel();
        continue;
      }
      const table = tableOf(checked.path);
      current = table;
      if (checked.kind === "info") {
        table.infoPath = entry.path;
        await readInfo(entry, table);
      } else {
        table.jsonPath = entry.path;
        table.jsonBytes = entry.size;
        const counted = table.metadata?.backup !== undefined;
        if (mode === "list" && counted) {
          await entry.body.cancel();
        } else {
          const check = new JsonEntryCheck(entry.path, {
            hash: mode === "verify",
            primaryKey: mode === "verify",
            knownPrimaryKey: table.metadata?.primaryKey,
          });
          await readBody(entry, (chunk) => check.feed(chunk));
          table.observed = check.end();
          keyChecks.set(table, check.keyCheck());
        }
      }
      current = undefined;
    }
  } catch (error) {
    if (!(error instanceof ArchiveError) || /^cannot read the archive/.test(error.message)) {
      throw error;
    }
    catalog.fatal = error.message;
    if (current) {
      current.problems.push(
        `${current.db}.${current.table}: not read to its end; the archive is damaged there`,
      );
    }
  }
  catalog.top = checker.top;
  if (catalog.top !== undefined) catalog.date = archiveDate(catalog.top);
  for (const table of catalog.tables.values()) compare(table, keyChecks.get(table), catalog);
  return catalog;
}

async function readBody(entry: ArchiveEntry, onChunk: (chunk: Uint8Array) => void) {
  const reader = entry.body.getReader();
  try {
    while (true) {
      const result = await reader.read();
      if (result.done) break;
      onChunk(result.value);
    }
  } finally {
    reader.releaseLock();
  }
}

async function readInfo(entry: ArchiveEntry, table: InspectedTable): Promise<void> {
  if (entry.size > MAX_INFO_BYTES) {
    table.problems.push(`${entry.path}: ${entry.size} bytes, too large for a .info entry`);
    await entry.body.cancel();
    return;
  }
  const bytes = new Uint8Array(await new Response(entry.body).arrayBuffer());
  try {
    table.metadata = decodeInfo(bytes, entry.path);
  } catch (error) {
    if (!(error instanceof BackupError)) throw error;
    table.problems.push(error.message);
  }
}

/** Adds the problems found by comparing what was read with what the `.info` says. */
function compare(
  table: InspectedTable,
  firstWithout: ((key: string) => number) | undefined,
  catalog: InspectedArchive,
): void {
  const name = `${table.db}.${table.table}`;
  const ended = catalog.fatal === undefined;
  if (table.infoPath === undefined && table.jsonPath !== undefined) {
    table.missingEntry = `${name}: ${table.jsonPath} has no .info entry; restore skips the table`;
  }
  if (table.jsonPath === undefined && table.infoPath !== undefined && ended) {
    table.missingEntry = `${name}: ${table.infoPath} has no .json entry`;
  }
  const observed = table.observed;
  if (!observed) return;
  if (observed.invalid !== undefined) table.problems.push(observed.invalid);
  const meta = table.metadata;
  if (!meta || !firstWithout) return;
  const missing = firstWithout(meta.primaryKey);
  if (missing >= 0) {
    table.problems.push(
      `${table.jsonPath}: document ${missing + 1} has no primary key ${
        JSON.stringify(meta.primaryKey)
      }`,
    );
  }
  const record = meta.backup;
  if (!record || observed.bytes !== table.jsonBytes) return;
  if (observed.invalid === undefined && observed.documents !== record.documents) {
    table.problems.push(
      `${name}: ${observed.documents} documents in ${table.jsonPath}, ` +
        `the .info recorded ${record.documents}`,
    );
  }
  if (observed.bytes !== record.json_bytes) {
    table.problems.push(
      `${name}: ${table.jsonPath} is ${observed.bytes} bytes, the .info recorded ${record.json_bytes}`,
    );
  }
  if (observed.sha256 !== undefined && observed.sha256 !== record.json_sha256) {
    table.problems.push(
      `${name}: ${table.jsonPath} does not match the SHA-256 its .info recorded; its data is damaged`,
    );
  }
}
