/**
 * What `list` shows of an {@link InspectedArchive}: one row per table, as text or as JSON.
 *
 * @module
 */

import type { SavedTableConfig } from "../archive/table_config.ts";
import { formatCount } from "../progress/progress.ts";
import { allProblems, type InspectedArchive, type InspectedTable } from "./catalog.ts";

/** One table as `list --json` prints it. */
export interface ListedTable {
  db: string;
  table: string;
  /** `null` when the table has no valid `.info`. */
  primary_key: string | null;
  /** `null` when unknown (no `.json`, or it could not be read). */
  documents: number | null;
  /** Size of the `.json` entry, `null` when there is none. */
  json_bytes: number | null;
  /** Names of the secondary indexes. */
  indexes: string[];
  write_hook: boolean;
  /** Whether `documents` was recorded by the dump (`.info`) or counted by reading the data. */
  counted: "recorded" | "read" | "unknown";
  /** The table's configuration at dump time, if recorded. */
  config?: SavedTableConfig;
  /** The tool and version that wrote the table, if recorded. */
  dumped_by?: string;
  /** When the table's read started and ended, if recorded. */
  read_started?: string;
  read_ended?: string;
  /**
   * A point-in-time dump's changes of the table up to the cut (its `.changes` entry's lines, as
   * recorded), which a restore replays over its documents; absent without change capture.
   */
  changes?: number;
}

/** The whole `list --json` output. */
export interface ListOutput {
  /**
   * The archive's top-level directory and the dump's local date and time, when known; and a
   * point-in-time dump's cut (ISO 8601), the moment restore brings every table to (absent
   * without change capture).
   */
  archive: { top: string | null; date: string | null; cut?: string };
  tables: ListedTable[];
  /** Problems met while listing (run `verify` for a full check). */
  problems: string[];
}

function listTable(table: InspectedTable): ListedTable {
  const meta = table.metadata;
  const record = meta?.backup;
  let documents: number | null = null;
  let counted: ListedTable["counted"] = "unknown";
  if (record) {
    documents = record.documents;
    counted = "recorded";
  } else if (table.observed && table.observed.invalid === undefined) {
    documents = table.observed.documents;
    counted = "read";
  }
  const listed: ListedTable = {
    db: table.db,
    table: table.table,
    primary_key: meta?.primaryKey ?? null,
    documents,
    json_bytes: table.jsonBytes ?? null,
    indexes: meta ? [...meta.indexes.map((i) => i.index), ...meta.droppedIndexes] : [],
    write_hook: meta?.writeHook != null,
    counted,
  };
  if (record?.config) listed.config = record.config;
  if (record) {
    listed.dumped_by = `${record.tool} ${record.version}`;
    listed.read_started = record.read_started;
    listed.read_ended = record.read_ended;
  }
  if (record?.capture) listed.changes = record.capture.changes;
  return listed;
}

/**
 * The `list --json` value of a catalog.
 *
 * @example
 * ```ts
 * import { inspectArchive } from "./catalog.ts";
 * import { listOutput } from "./list.ts";
 *
 * const file = await Deno.open("backup.tar.gz");
 * const output = listOutput(await inspectArchive(file.readable, { mode: "list" }));
 * console.log(JSON.stringify(output));
 * ```
 */
export function listOutput(catalog: InspectedArchive): ListOutput {
  const problems = allProblems(catalog);
  const archive: ListOutput["archive"] = { top: catalog.top ?? null, date: catalog.date ?? null };
  if (catalog.cut !== undefined) archive.cut = catalog.cut;
  return { archive, tables: [...catalog.tables.values()].map(listTable), problems };
}

function describeConfig(config: SavedTableConfig | undefined): string {
  if (!config) return "-";
  const acks = typeof config.write_acks === "string" ? config.write_acks : "custom";
  return `${config.shards}s/${config.replicas}r ${config.durability}/${acks}`;
}

/**
 * The text `list` prints: a header naming the archive and its date (and a point-in-time dump's
 * cut), then one aligned row per table; counts read from the data (official archives record
 * none) are marked with `*`. A CHANGES column is shown only for an archive with change capture.
 *
 * @example
 * ```ts
 * import { inspectArchive } from "./catalog.ts";
 * import { listOutput, listText } from "./list.ts";
 *
 * const file = await Deno.open("backup.tar.gz");
 * console.log(listText(listOutput(await inspectArchive(file.readable, { mode: "list" }))));
 * ```
 */
export function listText(output: ListOutput): string {
  const lines: string[] = [];
  const { top, date } = output.archive;
  lines.push(
    top === null
      ? "Archive holds no tables"
      : `Archive ${top}${
        date ? `, dumped ${date.replace("T", " ")} (dumping machine's local time)` : ""
      }`,
  );
  const cut = output.archive.cut;
  if (cut !== undefined) {
    lines.push(`Point in time: ${cut} (restore replays each table's changes up to this cut)`);
  }
  // Without change capture the columns stay as they always were.
  const withChanges = cut !== undefined || output.tables.some((t) => t.changes !== undefined);
  const rows = [["TABLE", "PRIMARY KEY", "DOCUMENTS", "JSON BYTES", "INDEXES", "HOOK", "CONFIG"]];
  if (withChanges) rows[0].splice(3, 0, "CHANGES");
  for (const t of output.tables) {
    const row = [
      `${t.db}.${t.table}`,
      t.primary_key ?? "?",
      t.documents === null ? "?" : `${formatCount(t.documents)}${t.counted === "read" ? "*" : ""}`,
      t.json_bytes === null ? "-" : formatCount(t.json_bytes),
      t.indexes.length === 0 ? "-" : t.indexes.join(","),
      t.write_hook ? "yes" : "no",
      describeConfig(t.config),
    ];
    if (withChanges) row.splice(3, 0, t.changes === undefined ? "-" : formatCount(t.changes));
    rows.push(row);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const right = new Set(withChanges ? [2, 3, 4] : [2, 3]);
  for (const row of rows) {
    lines.push(
      row.map((cell, c) => right.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))
        .join("  ").trimEnd(),
    );
  }
  const total = output.tables.reduce((sum, t) => sum + (t.documents ?? 0), 0);
  const changes = output.tables.reduce((sum, t) => sum + (t.changes ?? 0), 0);
  lines.push(
    `${output.tables.length} ${output.tables.length === 1 ? "table" : "tables"}, ` +
      `${formatCount(total)} documents${withChanges ? `, ${formatCount(changes)} changes` : ""}`,
  );
  if (output.tables.some((t) => t.counted === "read")) {
    lines.push("* counted by reading the data: the archive's .info records no count");
  }
  if (output.tables.some((t) => t.config)) {
    lines.push("CONFIG: shards/replicas durability/write_acks at dump time");
  }
  return lines.join("\n");
}
