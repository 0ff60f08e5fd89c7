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
}

/** The whole `list --json` output. */
export interface ListOutput {
  /** The archive's top-level directory and the dump's local date and time, when known. */
  archive: { top: string | null; date: string | null };
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
  return {
    archive: { top: catalog.top ?? null, date: catalog.date ?? null },
    tables: [...catalog.tables.values()].map(listTable),
    problems,
  };
}

function describeConfig(config: SavedTableConfig | undefined): string {
  if (!config) return "-";
  const acks = typeof config.write_acks === "string" ? config.write_acks : "custom";
  return `${config.shards}s/${config.replicas}r ${config.durability}/${acks}`;
}

/**
 * The text `list` prints: a header naming the archive and its date, then one aligned row per
 * table; counts read from the data (official archives record none) are marked with `*`.
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
  const rows = [["TABLE", "PRIMARY KEY", "DOCUMENTS", "JSON BYTES", "INDEXES", "HOOK", "CONFIG"]];
  for (const t of output.tables) {
    rows.push([
      `${t.db}.${t.table}`,
      t.primary_key ?? "?",
      t.documents === null ? "?" : `${formatCount(t.documents)}${t.counted === "read" ? "*" : ""}`,
      t.json_bytes === null ? "-" : formatCount(t.json_bytes),
      t.indexes.length === 0 ? "-" : t.indexes.join(","),
      t.write_hook ? "yes" : "no",
      describeConfig(t.config),
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const right = new Set([2, 3]);
  for (const row of rows) {
    lines.push(
      row.map((cell, c) => right.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))
        .join("  ").trimEnd(),
    );
  }
  const total = output.tables.reduce((sum, t) => sum + (t.documents ?? 0), 0);
  lines.push(
    `${output.tables.length} ${output.tables.length === 1 ? "table" : "tables"}, ` +
      `${formatCount(total)} documents`,
  );
  if (output.tables.some((t) => t.counted === "read")) {
    lines.push("* counted by reading the data: the archive's .info records no count");
  }
  if (output.tables.some((t) => t.config)) {
    lines.push("CONFIG: shards/replicas durability/write_acks at dump time");
  }
  return lines.join("\n");
}
