/**
 * The `.info` entry of a table: one JSON line holding `table.info()`, with `indexes` replaced by
 * `indexStatus()` (raw BINARY function blobs) and a `write_hook` key, as the official dump
 * writes it.
 *
 * @module
 */

import type { IndexStatus, RawBinary, TableInfo, WriteHook } from "../connection/driver.ts";
import { ArchiveError } from "./errors.ts";
import type { SavedTableConfig } from "./table_config.ts";

export type { SavedTableConfig } from "./table_config.ts";
export { savedConfigFromTableConfig } from "./table_config.ts";

/**
 * The top-level `.info` key holding {@link BackupRecord}. The official restore reads only
 * `primary_key`, `indexes` and `write_hook`, so this key does not change what it restores.
 */
export const BACKUP_RECORD_KEY = "rethinkdb_backup";

/**
 * What `rethinkdb-backup dump` records about a table beyond the official `.info`, so that an
 * archive can be checked offline against what was dumped.
 */
export interface BackupRecord {
  /** The tool that wrote the archive, e.g. `"rethinkdb-backup"`. */
  tool: string;
  /** Its version (`src/version.ts`). */
  version: string;
  /** Documents in the table's `.json` entry. */
  documents: number;
  /** Size in bytes of the table's `.json` entry. */
  json_bytes: number;
  /** SHA-256 of the table's `.json` entry, lowercase hex. */
  json_sha256: string;
  /** When the table's read started (ISO 8601). */
  read_started: string;
  /** When the table's read ended (ISO 8601). */
  read_ended: string;
  /** The table's configuration at dump time, when it could be read. */
  config?: SavedTableConfig;
  /**
   * With change capture (a point-in-time dump): the cut, and the table's `.changes` entry that
   * brings the `.json` to it. Absent from a dump made without capture.
   */
  capture?: CaptureRecord;
}

/**
 * A table's changes from before its read began until the cut: replayed over its `.json`, they
 * give the table as it was at the cut. A table with no change has no `.changes` entry.
 */
export interface CaptureRecord {
  /** The moment every table's capture ended (ISO 8601); the same in every `.info` of a dump. */
  cut: string;
  /** Changes in the `.changes` entry (lines). */
  changes: number;
  /** Size in bytes of the `.changes` entry (0 without one). */
  changes_bytes: number;
  /** SHA-256 of the `.changes` entry, lowercase hex (of no bytes without one). */
  changes_sha256: string;
}

/** What a restore needs from a `.info` entry. */
export interface TableMetadata {
  /** The database name recorded in the entry, if any (`db.name`). */
  db?: string;
  /** The table name recorded in the entry, if any (`name`). */
  table?: string;
  /** The table's primary key. */
  primaryKey: string;
  /** Secondary indexes that can be recreated from their function blobs. */
  indexes: IndexStatus[];
  /**
   * Secondary indexes named in the entry without a function blob (dumps by very old tools):
   * they cannot be recreated, and the operator should be warned.
   */
  droppedIndexes: string[];
  /** The write hook, or `null` (also when the entry has no `write_hook` key). */
  writeHook: WriteHook | null;
  /** The whole parsed entry. */
  raw: Record<string, unknown>;
  /** What `rethinkdb-backup dump` recorded (absent in official archives). */
  backup?: BackupRecord;
}

const encoder = new TextEncoder();

/**
 * Encodes a table's `.info` entry: `info` with `indexes` replaced by the `indexes` status list
 * and `write_hook` set (always present, `null` for none), as one JSON line ending in `\n`.
 * With `record`, the entry also holds it under {@link BACKUP_RECORD_KEY}, as its last key.
 *
 * @example
 * ```ts
 * import { encodeInfo } from "./table_info.ts";
 * import type { TableInfo } from "../connection/driver.ts";
 *
 * const info: TableInfo = {
 *   db: { id: "f58e…", name: "league", type: "DB" }, doc_count_estimates: [0], id: "fd9c…",
 *   indexes: [], name: "users", primary_key: "uid", type: "TABLE",
 * };
 * const bytes = encodeInfo(info, [], null); // {"db":{…},…,"indexes":[],…,"write_hook":null}\n
 * ```
 */
export function encodeInfo(
  info: TableInfo,
  indexes: IndexStatus[],
  writeHook: WriteHook | null,
  record?: BackupRecord,
): Uint8Array {
  return finishInfo(prepareInfo(info, indexes, writeHook), record);
}

/**
 * A table's `.info` before its backup record is known, as compact text: a dump of thousands of
 * tables holds one per table until its point in time is cut, where the parsed metadata cost
 * some thirty strings and a dozen objects each.
 */
export type PreparedInfo = string & { readonly preparedInfo: unique symbol };

/**
 * The first part of {@link encodeInfo}: everything but the record, which
 * {@link finishInfo} adds.
 *
 * @example
 * ```ts
 * import { finishInfo, prepareInfo } from "./table_info.ts";
 * import type { TableInfo } from "../connection/driver.ts";
 *
 * const info = { name: "users", primary_key: "uid", indexes: [] } as unknown as TableInfo;
 * const bytes = finishInfo(prepareInfo(info, [], null)); // {"name":"users",…,"write_hook":null}\n
 * ```
 */
export function prepareInfo(
  info: TableInfo,
  indexes: IndexStatus[],
  writeHook: WriteHook | null,
): PreparedInfo {
  const out: Record<string, unknown> = { ...info, indexes, write_hook: writeHook };
  delete out[BACKUP_RECORD_KEY];
  return JSON.stringify(out) as PreparedInfo;
}

/**
 * The `.info` entry's bytes: `prepared`, with `record` as its last key when given.
 *
 * @example
 * ```ts
 * import { finishInfo, prepareInfo } from "./table_info.ts";
 * import type { TableInfo } from "../connection/driver.ts";
 *
 * const prepared = prepareInfo({ name: "t" } as unknown as TableInfo, [], null);
 * finishInfo(prepared, {
 *   tool: "rethinkdb-backup",
 *   version: "1.0.0",
 *   documents: 0,
 *   json_bytes: 4,
 *   json_sha256: "…",
 *   read_started: "2026-12-06T10:00:00.000Z",
 *   read_ended: "2026-12-06T10:00:00.001Z",
 * });
 * ```
 */
export function finishInfo(prepared: PreparedInfo, record?: BackupRecord): Uint8Array {
  // The object always has keys (`indexes`, `write_hook`), so one more goes before its `}`.
  const text = record === undefined
    ? prepared
    : `${prepared.slice(0, -1)},${JSON.stringify(BACKUP_RECORD_KEY)}:${JSON.stringify(record)}}`;
  return encoder.encode(`${text}\n`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isBinary(value: unknown): value is RawBinary {
  return isObject(value) && value.$reql_type$ === "BINARY" && typeof value.data === "string";
}

/**
 * Decodes and validates a `.info` entry. `entryPath` names the entry in errors.
 *
 * Requires a JSON object with a string `primary_key`. `indexes`, when present, must be an
 * array: objects with a string `index` and a BINARY `function` are recreatable indexes; plain
 * names, or objects without a function blob (older dumps), are listed in `droppedIndexes`.
 * A missing or `null` `write_hook` means none.
 *
 * @example
 * ```ts
 * import { decodeInfo } from "./table_info.ts";
 *
 * const bytes = new TextEncoder().encode('{"name": "users", "primary_key": "uid"}\n');
 * const meta = decodeInfo(bytes, "rethinkdb_dump_x/league/users.info");
 * meta.primaryKey; // "uid"
 * ```
 */
export function decodeInfo(bytes: Uint8Array, entryPath: string): TableMetadata {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new ArchiveError(`${entryPath}: invalid UTF-8`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    const what = error instanceof SyntaxError ? error.message : String(error);
    throw new ArchiveError(`${entryPath}: invalid JSON: ${what}`);
  }
  if (!isObject(raw)) throw new ArchiveError(`${entryPath}: not a JSON object`);
  const primaryKey = raw.primary_key;
  if (typeof primaryKey !== "string" || primaryKey === "") {
    throw new ArchiveError(`${entryPath}: "primary_key" is missing or not a non-empty string`);
  }
  const indexes: IndexStatus[] = [];
  const droppedIndexes: string[] = [];
  if (raw.indexes !== undefined && raw.indexes !== null) {
    if (!Array.isArray(raw.indexes)) {
      throw new ArchiveError(`${entryPath}: "indexes" is not an array`);
    }
    raw.indexes.forEach((index: unknown, i: number) => {
      if (typeof index === "string") {
        droppedIndexes.push(index);
      } else if (isObject(index) && typeof index.index === "string") {
        if (isBinary(index.function)) {
          indexes.push({
            ...index,
            index: index.index,
            function: index.function,
            geo: index.geo === true,
            multi: index.multi === true,
          } as IndexStatus);
        } else if (index.function === undefined) {
          droppedIndexes.push(index.index);
        } else {
          throw new ArchiveError(
            `${entryPath}: "indexes"[${i}] (${index.index}): "function" is not a BINARY value`,
          );
        }
      } else {
        throw new ArchiveError(
          `${entryPath}: "indexes"[${i}] is neither an index name nor an object with "index"`,
        );
      }
    });
  }
  let writeHook: WriteHook | null = null;
  const hook = raw.write_hook;
  if (hook !== undefined && hook !== null) {
    if (!isObject(hook) || !isBinary(hook.function)) {
      throw new ArchiveError(
        `${entryPath}: "write_hook" is neither null nor an object with a BINARY "function"`,
      );
    }
    writeHook = {
      function: hook.function,
      query: typeof hook.query === "string" ? hook.query : "",
    };
  }
  const db = isObject(raw.db) && typeof raw.db.name === "string"
    ? raw.db.name
    : typeof raw.db === "string"
    ? raw.db
    : undefined;
  const table = typeof raw.name === "string" ? raw.name : undefined;
  const meta: TableMetadata = { db, table, primaryKey, indexes, droppedIndexes, writeHook, raw };
  if (raw[BACKUP_RECORD_KEY] !== undefined) {
    meta.backup = decodeBackupRecord(raw[BACKUP_RECORD_KEY], entryPath);
  }
  return meta;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function isTime(value: unknown): value is string {
  return typeof value === "string" && !Number.isNaN(Date.parse(value));
}

/**
 * Validates the value of {@link BACKUP_RECORD_KEY}; throws an {@link ArchiveError} naming the
 * entry and the field that is wrong.
 *
 * @example
 * ```ts
 * import { decodeBackupRecord } from "./table_info.ts";
 *
 * decodeBackupRecord({
 *   tool: "rethinkdb-backup", version: "0.1.0", documents: 0, json_bytes: 4,
 *   json_sha256: "ab".repeat(32), read_started: "2026-11-23T20:07:40.000Z",
 *   read_ended: "2026-11-23T20:07:41.000Z",
 * }, "top/db/t.info").documents; // 0
 * ```
 */
export function decodeBackupRecord(value: unknown, entryPath: string): BackupRecord {
  const where = `${entryPath}: "${BACKUP_RECORD_KEY}"`;
  if (!isObject(value)) throw new ArchiveError(`${where} is not a JSON object`);
  const fail = (field: string, what: string): never => {
    throw new ArchiveError(`${where}.${field} is missing or not ${what}`);
  };
  if (typeof value.tool !== "string") fail("tool", "a string");
  if (typeof value.version !== "string") fail("version", "a string");
  if (!isCount(value.documents)) fail("documents", "a non-negative integer");
  if (!isCount(value.json_bytes)) fail("json_bytes", "a non-negative integer");
  if (typeof value.json_sha256 !== "string" || !SHA256_HEX.test(value.json_sha256)) {
    fail("json_sha256", "64 lowercase hex digits");
  }
  if (!isTime(value.read_started)) fail("read_started", "an ISO 8601 time");
  if (!isTime(value.read_ended)) fail("read_ended", "an ISO 8601 time");
  const record: BackupRecord = {
    tool: value.tool as string,
    version: value.version as string,
    documents: value.documents as number,
    json_bytes: value.json_bytes as number,
    json_sha256: value.json_sha256 as string,
    read_started: value.read_started as string,
    read_ended: value.read_ended as string,
  };
  if (value.config !== undefined) {
    const config = value.config;
    if (!isObject(config)) fail("config", "an object");
    const c = config as Record<string, unknown>;
    if (!isCount(c.shards) || c.shards < 1) fail("config.shards", "a positive integer");
    if (!isCount(c.replicas) || c.replicas < 1) fail("config.replicas", "a positive integer");
    if (typeof c.durability !== "string") fail("config.durability", "a string");
    record.config = {
      shards: c.shards as number,
      replicas: c.replicas as number,
      durability: c.durability as string,
      write_acks: c.write_acks,
    };
  }
  if (value.capture !== undefined) {
    const capture = value.capture;
    if (!isObject(capture)) fail("capture", "an object");
    const c = capture as Record<string, unknown>;
    if (!isTime(c.cut)) fail("capture.cut", "an ISO 8601 time");
    if (!isCount(c.changes)) fail("capture.changes", "a non-negative integer");
    if (!isCount(c.changes_bytes)) fail("capture.changes_bytes", "a non-negative integer");
    if (typeof c.changes_sha256 !== "string" || !SHA256_HEX.test(c.changes_sha256)) {
      fail("capture.changes_sha256", "64 lowercase hex digits");
    }
    record.capture = {
      cut: c.cut as string,
      changes: c.changes as number,
      changes_bytes: c.changes_bytes as number,
      changes_sha256: c.changes_sha256 as string,
    };
  }
  return record;
}
