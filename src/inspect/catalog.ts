/**
 * The one definition of a valid dump archive, applied entry by entry: gzip and tar integrity,
 * the layout and names (`../archive/entry_check.ts`), every `.info` decoded
 * (`../archive/table_info.ts`), every `.json` scanned as an array of objects in valid UTF-8 JSON,
 * each holding the primary key, and hashed (`./json_check.ts`), each table's `.info` paired with
 * its `.json`, and the counts, sizes and SHA-256 the `.info` recorded compared with what was read.
 * A point-in-time dump's `.changes` entries (`./changes_check.ts`) come after their table's
 * `.info` and `.json`, only where that `.info` has a capture record (and every table whose
 * record counts changes has one), each line a change of that table, and every `.info` of the
 * archive carries the same cut. Memory stays bounded: only small per-table results are kept.
 *
 * `list` and `verify` run {@link inspectArchive}; the pre-scan of `restore FILE` runs it before
 * writing; `restore -` drives an {@link ArchiveCatalog} itself as the entries stream past and
 * stops at the first problem. So the three refuse the same archives.
 *
 * @module
 */

import { archiveDate, type CheckedEntry, EntryChecker } from "../archive/entry_check.ts";
import { ArchiveError } from "../archive/errors.ts";
import type { EntryPath } from "../archive/layout.ts";
import { decodeInfo, type TableMetadata } from "../archive/table_info.ts";
import { type ArchiveEntry, readArchive } from "../archive/tar_reader.ts";
import { BackupError } from "../errors.ts";
import {
  ChangesEntryCheck,
  type ChangesEntryCheckOptions,
  type ObservedChanges,
} from "./changes_check.ts";
import {
  JsonEntryCheck,
  type JsonEntryCheckOptions,
  missingKeyProblem,
  type ObservedData,
} from "./json_check.ts";

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
  /** Path of the `.changes` entry, if present. */
  changesPath?: string;
  /** Size of the `.changes` entry, if present. */
  changesBytes?: number;
  /** What reading the `.changes` entry found (absent when it was not read, or not present). */
  observedChanges?: ObservedChanges;
  /** One line per problem with the table's data or metadata, each naming the table or entry. */
  problems: string[];
  /**
   * Set when the table has only one of its two entries, or its `.info` counts changes and it
   * has no `.changes` entry: one line saying which is missing. A dump always writes them, so
   * either is a problem like any other.
   */
  missingEntry?: string;
}

/** The result of {@link inspectArchive}. */
export interface InspectedArchive {
  /** The top-level directory, if any table entry was seen. */
  top?: string;
  /** The dump's local date and time from {@link top} (`YYYY-MM-DDTHH:MM:SS`), if it has one. */
  date?: string;
  /**
   * A point-in-time dump's cut (ISO 8601), as the first `.info` with a capture record has it;
   * absent for a dump without change capture.
   */
  cut?: string;
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
   * `"verify"` (default): read every `.json` and `.changes` entry fully. `"list"`: read a
   * `.json` entry only to count its documents when its `.info` has not already given the count,
   * and no `.changes` entry (a capture record always counts its changes).
   */
  mode?: "verify" | "list";
}

/**
 * Every problem of a catalog, one line each: archive-level ones first, then per table, then the
 * tables missing one of their entries.
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
  const tables = [...catalog.tables.values()];
  for (const table of tables) lines.push(...table.problems);
  // A missing entry is often the consequence of a problem above (a bad path, a second top).
  for (const table of tables) if (table.missingEntry !== undefined) lines.push(table.missingEntry);
  return lines;
}

/**
 * The state of one pass over an archive: each entry is handed to it in archive order, and it
 * records what it finds. {@link inspectArchive} collects every problem; a restore from stdin
 * asks after each step whether a problem was found and stops there.
 *
 * @example
 * ```ts
 * import { ArchiveCatalog } from "./catalog.ts";
 * import { readArchive } from "../archive/tar_reader.ts";
 *
 * const catalog = new ArchiveCatalog();
 * const file = await Deno.open("backup.tar.gz");
 * for await (const entry of readArchive(file.readable)) {
 *   const checked = catalog.classify(entry);
 *   if (checked.kind === "info") await catalog.readInfo(entry, catalog.table(checked.path));
 *   else if (checked.kind === "json") {
 *     const table = catalog.table(checked.path);
 *     const check = catalog.jsonCheck(entry, table);
 *     for await (const chunk of entry.body) check.feed(chunk);
 *     catalog.endJson(table, check);
 *   } else if (checked.kind === "changes") {
 *     const table = catalog.table(checked.path);
 *     const check = catalog.changesCheck(entry, table);
 *     if (check === undefined) await entry.body.cancel();
 *     else {
 *       for await (const chunk of entry.body) check.feed(chunk);
 *       catalog.endChanges(table, check);
 *     }
 *   } else await entry.body.cancel();
 * }
 * const result = catalog.finish();
 * ```
 */
export class ArchiveCatalog {
  readonly #result: InspectedArchive = { tables: new Map(), problems: [], warnings: [] };
  readonly #checker = new EntryChecker();
  // Per table, only the small primary-key check function is kept, never the scanner.
  readonly #keyChecks = new Map<InspectedTable, (key: string) => number>();
  // Tables whose data has been compared with their .info already.
  readonly #compared = new Set<InspectedTable>();
  // The first cut seen, and the .info it came from.
  #cut: { cut: string; at: number; path: string } | undefined;

  /**
   * Checks an entry's path and type, recording a problem or a skip warning.
   *
   * @example
   * ```ts
   * import { ArchiveCatalog } from "./catalog.ts";
   *
   * new ArchiveCatalog().classify({ path: "top/db/t x.info", type: "file" }).kind; // "problem"
   * ```
   */
  classify(entry: Pick<ArchiveEntry, "path" | "type">): CheckedEntry {
    const checked = this.#checker.check(entry);
    if (checked.kind === "skip" && checked.warning) this.#result.warnings.push(checked.warning);
    if (checked.kind === "problem") {
      if (checked.path) this.table(checked.path).problems.push(checked.problem);
      else this.#result.problems.push(checked.problem);
    }
    return checked;
  }

  /**
   * The record of the table an entry belongs to, made on first use.
   *
   * @example
   * ```ts
   * import { ArchiveCatalog } from "./catalog.ts";
   *
   * new ArchiveCatalog().table({ db: "league", table: "users" }).problems; // []
   * ```
   */
  table(path: Pick<EntryPath, "db" | "table">): InspectedTable {
    const key = `${path.db}.${path.table}`;
    let table = this.#result.tables.get(key);
    if (!table) {
      table = { db: path.db, table: path.table, problems: [] };
      this.#result.tables.set(key, table);
    }
    return table;
  }

  /**
   * Reads and decodes a `.info` entry into `table.metadata`; a problem is recorded on the table.
   *
   * @example
   * ```ts
   * import { ArchiveCatalog } from "./catalog.ts";
   *
   * const catalog = new ArchiveCatalog();
   * const body = new Blob(['{"primary_key":"id","indexes":[]}']).stream();
   * const entry = { path: "top/db/t.info", type: "file" as const, size: 33, body };
   * await catalog.readInfo(entry, catalog.table({ db: "db", table: "t" }));
   * ```
   */
  async readInfo(entry: ArchiveEntry, table: InspectedTable): Promise<void> {
    table.infoPath = entry.path;
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
    const cut = table.metadata?.backup?.capture?.cut;
    if (cut === undefined) return;
    // One dump has one cut: two mean tables of different dumps, which no replay makes whole.
    if (this.#cut === undefined) this.#cut = { cut, at: Date.parse(cut), path: entry.path };
    else if (Date.parse(cut) !== this.#cut.at) {
      table.problems.push(
        `${entry.path}: its capture's cut ${cut} is not the cut ${this.#cut.cut} of ` +
          `${this.#cut.path}; the archive mixes tables of different dumps`,
      );
    }
  }

  /**
   * Starts the check of a table's `.json` entry: feed it the entry's bytes, then call
   * {@link endJson}. `options` add to what the table's `.info`, if read, tells.
   *
   * @example
   * ```ts
   * import { ArchiveCatalog } from "./catalog.ts";
   *
   * const catalog = new ArchiveCatalog();
   * const table = catalog.table({ db: "db", table: "t" });
   * const check = catalog.jsonCheck({ path: "top/db/t.json", size: 4 }, table);
   * check.feed(new TextEncoder().encode("[\n]\n"));
   * catalog.endJson(table, check);
   * ```
   */
  jsonCheck(
    entry: Pick<ArchiveEntry, "path" | "size">,
    table: InspectedTable,
    options: JsonEntryCheckOptions = {},
  ): JsonEntryCheck {
    table.jsonPath = entry.path;
    table.jsonBytes = entry.size;
    return new JsonEntryCheck(entry.path, {
      knownPrimaryKey: table.metadata?.primaryKey,
      ...options,
    });
  }

  /**
   * Ends a table's `.json` check, recording what was observed. When the table's `.info` came
   * first, the data is compared with it now (documents, primary keys, size, SHA-256); otherwise
   * at {@link finish}.
   *
   * @example
   * ```ts
   * import { ArchiveCatalog } from "./catalog.ts";
   *
   * const catalog = new ArchiveCatalog();
   * const table = catalog.table({ db: "db", table: "t" });
   * const check = catalog.jsonCheck({ path: "top/db/t.json", size: 2 }, table);
   * check.feed(new TextEncoder().encode("{}"));
   * catalog.endJson(table, check);
   * table.problems; // ["top/db/t.json: not a JSON array (byte 0 is not '[')"]
   * ```
   */
  endJson(table: InspectedTable, check: JsonEntryCheck): void {
    table.observed = check.end();
    this.#keyChecks.set(table, check.keyCheck());
    if (table.metadata !== undefined || table.observed.invalid !== undefined) this.#compare(table);
  }

  /**
   * Starts the check of a table's `.changes` entry: feed it the entry's bytes, then call
   * {@link endChanges}. Returns `undefined`, with the problem recorded on the table, when the
   * entry breaks the rules before its first byte: it comes before its table's `.info` or
   * `.json`, or that `.info` records no capture, or no changes (or is itself invalid).
   *
   * @example
   * ```ts
   * import { ArchiveCatalog } from "./catalog.ts";
   *
   * const catalog = new ArchiveCatalog();
   * const table = catalog.table({ db: "db", table: "t" });
   * catalog.changesCheck({ path: "top/db/t.changes", size: 0 }, table); // undefined
   * table.problems; // ["top/db/t.changes: comes before its table's .info; …"]
   * ```
   */
  changesCheck(
    entry: Pick<ArchiveEntry, "path" | "size">,
    table: InspectedTable,
    options: ChangesEntryCheckOptions = {},
  ): ChangesEntryCheck | undefined {
    table.changesPath = entry.path;
    table.changesBytes = entry.size;
    const missing = table.infoPath === undefined
      ? ".info"
      : table.jsonPath === undefined
      ? ".json"
      : undefined;
    if (missing !== undefined) {
      table.problems.push(
        `${entry.path}: comes before its table's ${missing}; a dump writes .info, .json, then ` +
          `.changes (rebuild the archive in that order)`,
      );
      return undefined;
    }
    const meta = table.metadata;
    // An invalid .info is a problem of its own already.
    if (meta === undefined) return undefined;
    const capture = meta.backup?.capture;
    if (capture === undefined) {
      table.problems.push(
        `${entry.path}: ${table.infoPath} has no capture record, so nothing says what these ` +
          `changes are or checks them; it is not a valid dump`,
      );
      return undefined;
    }
    if (capture.changes === 0) {
      table.problems.push(
        `${entry.path}: ${table.infoPath} records no changes for the table, which then has no ` +
          `.changes entry; it is not a valid dump`,
      );
      return undefined;
    }
    return new ChangesEntryCheck(entry.path, meta.primaryKey, options);
  }

  /**
   * Ends a table's `.changes` check, recording what was observed and comparing it with the
   * capture record of the table's `.info` (changes, size, SHA-256).
   *
   * @example
   * ```ts
   * import { ArchiveCatalog } from "./catalog.ts";
   *
   * const catalog = new ArchiveCatalog();
   * const table = catalog.table({ db: "db", table: "t" });
   * const check = catalog.changesCheck({ path: "top/db/t.changes", size: 25 }, table);
   * if (check) {
   *   check.feed(new TextEncoder().encode('{"key":1,"new_val":null}\n'));
   *   catalog.endChanges(table, check);
   * }
   * ```
   */
  endChanges(table: InspectedTable, check: ChangesEntryCheck): void {
    const observed = table.observedChanges = check.end();
    if (observed.invalid !== undefined) {
      table.problems.push(observed.invalid);
      return;
    }
    const capture = table.metadata?.backup?.capture;
    if (capture === undefined) return;
    const name = `${table.db}.${table.table}`;
    const path = table.changesPath;
    if (observed.changes !== capture.changes) {
      table.problems.push(
        `${name}: ${observed.changes} changes in ${path}, the .info recorded ${capture.changes}`,
      );
    }
    if (observed.bytes !== capture.changes_bytes) {
      table.problems.push(
        `${name}: ${path} is ${observed.bytes} bytes, the .info recorded ${capture.changes_bytes}`,
      );
    }
    if (observed.sha256 !== undefined && observed.sha256 !== capture.changes_sha256) {
      table.problems.push(
        `${name}: ${path} does not match the SHA-256 its .info recorded; its changes are damaged`,
      );
    }
  }

  /**
   * Records that the archive could not be read past `error` (gzip or tar damage, truncation),
   * naming the table being read then, if any.
   *
   * @example
   * ```ts
   * import { ArchiveCatalog } from "./catalog.ts";
   *
   * new ArchiveCatalog().damaged("backup.tar.gz: the archive is truncated");
   * ```
   */
  damaged(error: string, current?: InspectedTable): void {
    this.#result.fatal = error;
    if (current) {
      current.problems.push(
        `${current.db}.${current.table}: not read to its end; the archive is damaged there`,
      );
    }
  }

  /**
   * Ends the pass: every table's data compared with its `.info`, and each `.info` paired with
   * its `.json` (when the archive was read to its end). Returns the whole result.
   *
   * @example
   * ```ts
   * import { allProblems, ArchiveCatalog } from "./catalog.ts";
   *
   * allProblems(new ArchiveCatalog().finish()); // []
   * ```
   */
  finish(): InspectedArchive {
    const result = this.#result;
    result.top = this.#checker.top;
    if (result.top !== undefined) result.date = archiveDate(result.top);
    if (this.#cut !== undefined) result.cut = this.#cut.cut;
    for (const table of result.tables.values()) {
      if (!this.#compared.has(table)) this.#compare(table);
      pairEntries(table, result.fatal === undefined);
    }
    return result;
  }

  #compare(table: InspectedTable): void {
    this.#compared.add(table);
    compareData(table, this.#keyChecks.get(table));
  }
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
  const catalog = new ArchiveCatalog();
  let current: InspectedTable | undefined;
  try {
    for await (const entry of readArchive(source)) {
      const checked = catalog.classify(entry);
      if (checked.kind === "skip" || checked.kind === "problem") {
        await entry.body.cancel();
        continue;
      }
      const table = catalog.table(checked.path);
      current = table;
      if (checked.kind === "info") {
        await catalog.readInfo(entry, table);
      } else if (checked.kind === "changes") {
        const check = catalog.changesCheck(entry, table, {
          hash: mode === "verify",
          validate: mode === "verify",
        });
        if (check === undefined || mode === "list") await entry.body.cancel();
        else {
          await readBody(entry, (chunk) => check.feed(chunk));
          catalog.endChanges(table, check);
        }
      } else if (mode === "list" && table.metadata?.backup !== undefined) {
        table.jsonPath = entry.path;
        table.jsonBytes = entry.size;
        await entry.body.cancel();
      } else {
        const check = catalog.jsonCheck(entry, table, {
          hash: mode === "verify",
          primaryKey: mode === "verify",
        });
        await readBody(entry, (chunk) => check.feed(chunk));
        catalog.endJson(table, check);
      }
      current = undefined;
    }
  } catch (error) {
    if (!isArchiveDamage(error)) throw error;
    catalog.damaged((error as Error).message, current);
  }
  return catalog.finish();
}

/**
 * True for an error that means the archive's bytes are damaged (gzip, tar, truncation), as
 * opposed to the source failing (`cannot read the archive: …`) or a bug.
 *
 * @example
 * ```ts
 * import { isArchiveDamage } from "./catalog.ts";
 * import { ArchiveError } from "../archive/errors.ts";
 *
 * isArchiveDamage(new ArchiveError("backup.tar.gz: the archive is truncated")); // true
 * ```
 */
export function isArchiveDamage(error: unknown): boolean {
  return error instanceof ArchiveError && !/^cannot read the archive/.test(error.message);
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

/** Each table has both its entries (only checked when the archive was read to its end). */
function pairEntries(table: InspectedTable, ended: boolean): void {
  const name = `${table.db}.${table.table}`;
  if (table.infoPath === undefined && table.jsonPath !== undefined) {
    table.missingEntry = `${name}: ${table.jsonPath} has no .info entry (its primary key and ` +
      `indexes are unknown); the archive is incomplete`;
  }
  if (table.jsonPath === undefined && table.infoPath !== undefined && ended) {
    table.missingEntry = `${name}: ${table.infoPath} has no .json entry (its documents are ` +
      `missing); the archive is incomplete`;
  }
  const changes = table.metadata?.backup?.capture?.changes ?? 0;
  if (changes > 0 && table.changesPath === undefined && ended) {
    table.missingEntry ??= `${name}: ${table.infoPath} records ${changes} changes but the ` +
      `archive has no .changes entry for the table; the archive is incomplete`;
  }
}

/** Adds the problems found by comparing what was read with what the `.info` says. */
function compareData(
  table: InspectedTable,
  firstWithout: ((key: string) => number) | undefined,
): void {
  const name = `${table.db}.${table.table}`;
  const observed = table.observed;
  if (!observed) return;
  if (observed.invalid !== undefined) table.problems.push(observed.invalid);
  const meta = table.metadata;
  if (!meta || !firstWithout) return;
  const missing = firstWithout(meta.primaryKey);
  if (missing >= 0) {
    table.problems.push(missingKeyProblem(table.jsonPath!, missing, meta.primaryKey));
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
