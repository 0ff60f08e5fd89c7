/**
 * The `.info` entry of a table: one JSON line holding `table.info()`, with `indexes` replaced by
 * `indexStatus()` (raw BINARY function blobs) and a `write_hook` key, as the official dump
 * writes it.
 *
 * @module
 */

import type { IndexStatus, RawBinary, TableInfo, WriteHook } from "../connection/driver.ts";
import { ArchiveError } from "./errors.ts";

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
}

const encoder = new TextEncoder();

/**
 * Encodes a table's `.info` entry: `info` with `indexes` replaced by the `indexes` status list
 * and `write_hook` set (always present, `null` for none), as one JSON line ending in `\n`.
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
): Uint8Array {
  const out: Record<string, unknown> = { ...info, indexes, write_hook: writeHook };
  return encoder.encode(`${JSON.stringify(out)}\n`);
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
  return { db, table, primaryKey, indexes, droppedIndexes, writeHook, raw };
}
