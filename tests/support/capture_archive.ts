/**
 * Point-in-time archives for tests, entry by entry (for `rawTar` / `rawTarGz`): each table's
 * `.info` with a capture record, its `.json` and its `.changes` (when it has changes), as a
 * dump with change capture writes them, and ways to break each part after the record was
 * computed from the real bytes.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { encodeChange } from "../../src/archive/changes.ts";
import { type BackupRecord, type CaptureRecord, encodeInfo } from "../../src/archive/table_info.ts";
import type { TableInfo } from "../../src/connection/driver.ts";
import { VERSION } from "../../src/version.ts";
import { jsonBody } from "./inspect_archive.ts";
import type { RawEntry } from "./raw_tar.ts";

/** The top directory of the archives built here. */
export const CAPTURE_TOP = "rethinkdb_dump_2026-12-06T09:00:00";

/** The cut of the archives built here. */
export const CUT = "2026-12-06T09:00:07.250Z";

/** A document. */
export type Doc = Record<string, unknown>;

/** One change: `new_val` null deletes. */
export interface TestChange {
  key: unknown;
  new_val: Doc | null;
}

/** One table of a point-in-time archive. */
export interface CaptureTable {
  db: string;
  table: string;
  primaryKey?: string;
  docs: Doc[];
  changes: TestChange[];
  /** The cut in the record (default {@link CUT}). */
  cut?: string;
  /** Rewrites the capture record computed from the real entry; `undefined` drops it. */
  record?: (capture: CaptureRecord) => CaptureRecord | undefined;
  /** The `.changes` bytes to store instead of the real ones (the record describes the real). */
  changesBody?: string | Uint8Array;
  /** Leave out the `.changes` entry. */
  omitChanges?: boolean;
  /** Put the `.changes` entry before the `.json` (or before the `.info`). */
  changesBefore?: "json" | "info";
}

const encoder = new TextEncoder();

/** The `.changes` body of `changes`, as the dump writes it. */
export function changesBody(changes: TestChange[]): Uint8Array {
  const lines = changes.map((c) =>
    encodeChange({
      key: encoder.encode(JSON.stringify(c.key)),
      newVal: c.new_val === null ? null : encoder.encode(JSON.stringify(c.new_val)),
    })
  );
  const out = new Uint8Array(lines.reduce((n, l) => n + l.length, 0));
  let offset = 0;
  for (const line of lines) (out.set(line, offset), offset += line.length);
  return out;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A table's entries, in the order a dump writes them (`.info`, `.json`, `.changes`). */
export function captureEntries(t: CaptureTable, top = CAPTURE_TOP): RawEntry[] {
  const json = jsonBody(t.docs);
  const changes = changesBody(t.changes);
  const real: CaptureRecord = {
    cut: t.cut ?? CUT,
    changes: t.changes.length,
    changes_bytes: changes.length,
    changes_sha256: sha256(changes),
  };
  const capture = t.record ? t.record(real) : real;
  const info: TableInfo = {
    db: { id: "00000000-0000-0000-0000-000000000001", name: t.db, type: "DB" },
    doc_count_estimates: [t.docs.length],
    id: "00000000-0000-0000-0000-000000000002",
    indexes: [],
    name: t.table,
    primary_key: t.primaryKey ?? "id",
    type: "TABLE",
  };
  const record: BackupRecord = {
    tool: "rethinkdb-backup",
    version: VERSION,
    documents: t.docs.length,
    json_bytes: json.length,
    json_sha256: sha256(json),
    read_started: "2026-12-06T09:00:01.000Z",
    read_ended: "2026-12-06T09:00:05.000Z",
    ...(capture === undefined ? {} : { capture }),
  };
  const entries: RawEntry[] = [
    { path: `${top}/${t.db}/${t.table}.info`, body: encodeInfo(info, [], null, record) },
    { path: `${top}/${t.db}/${t.table}.json`, body: json },
  ];
  const changesEntry = {
    path: `${top}/${t.db}/${t.table}.changes`,
    body: t.changesBody ?? changes,
  };
  if (t.omitChanges || (t.changes.length === 0 && t.changesBody === undefined)) return entries;
  if (t.changesBefore === "info") entries.unshift(changesEntry);
  else if (t.changesBefore === "json") entries.splice(1, 0, changesEntry);
  else entries.push(changesEntry);
  return entries;
}

/**
 * The documents `docs` become once `changes` are applied in order: what a restore of the table
 * must leave, sorted by primary key.
 */
export function applyChanges(docs: Doc[], changes: TestChange[], primaryKey = "id"): Doc[] {
  const byKey = new Map(docs.map((d) => [JSON.stringify(d[primaryKey]), d]));
  for (const change of changes) {
    const key = JSON.stringify(change.key);
    if (change.new_val === null) byKey.delete(key);
    else byKey.set(key, change.new_val);
  }
  return sortByKey([...byKey.values()], primaryKey);
}

/** Documents sorted by their primary key (numbers before strings, then by value). */
export function sortByKey(docs: Doc[], primaryKey = "id"): Doc[] {
  const rank = (v: unknown) => typeof v === "number" ? 0 : 1;
  return [...docs].sort((a, b) => {
    const x = a[primaryKey];
    const y = b[primaryKey];
    if (rank(x) !== rank(y)) return rank(x) - rank(y);
    return (x as number | string) < (y as number | string) ? -1 : x === y ? 0 : 1;
  });
}
