/**
 * Builds small dump archives in memory for the `list`/`verify` tests, with the existing
 * `ArchiveWriter`, `DocumentsEncoder` and `encodeInfo`, optionally carrying the
 * `rethinkdb_backup` record and optionally tampered with after the record was computed.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { DocumentsEncoder } from "../../src/archive/documents.ts";
import { entryPath } from "../../src/archive/layout.ts";
import { type BackupRecord, encodeInfo } from "../../src/archive/table_info.ts";
import { ArchiveWriter } from "../../src/archive/tar_writer.ts";
import type { TableInfo } from "../../src/connection/driver.ts";
import { VERSION } from "../../src/version.ts";

/** The top directory of the archives built here. */
export const TEST_TOP = "rethinkdb_dump_2026-11-24T10:11:12";

/** One table of a test archive. */
export interface TestTable {
  db: string;
  table: string;
  primaryKey?: string;
  docs: Record<string, unknown>[];
  /** Write the `rethinkdb_backup` record (default true). */
  record?: boolean;
  /** Write the `.json` before the `.info`, as the official dump sometimes does. */
  jsonFirst?: boolean;
  /** Changes the `.json` bytes after the record was computed from the real ones. */
  tamper?: (json: Uint8Array) => Uint8Array;
  /** Leave out the `.json` or the `.info`. */
  omit?: "json" | "info";
}

/** The `.json` body of `docs`, as the dump writes it. */
export function jsonBody(docs: Record<string, unknown>[]): Uint8Array {
  const encoder = new DocumentsEncoder();
  const parts = [encoder.begin(), encoder.encode(docs), encoder.end()];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) (out.set(part, offset), offset += part.length);
  return out;
}

/** The `.info` body of a table, with a record describing `json` when `record` is true. */
export function infoBody(t: TestTable, json: Uint8Array): Uint8Array {
  const info: TableInfo = {
    db: { id: "00000000-0000-0000-0000-000000000001", name: t.db, type: "DB" },
    doc_count_estimates: [t.docs.length],
    id: "00000000-0000-0000-0000-000000000002",
    indexes: [],
    name: t.table,
    primary_key: t.primaryKey ?? "id",
    type: "TABLE",
  };
  const record: BackupRecord | undefined = t.record === false ? undefined : {
    tool: "rethinkdb-backup",
    version: VERSION,
    documents: t.docs.length,
    json_bytes: json.length,
    json_sha256: createHash("sha256").update(json).digest("hex"),
    read_started: "2026-11-24T10:11:12.000Z",
    read_ended: "2026-11-24T10:11:13.500Z",
    config: { shards: 2, replicas: 1, durability: "hard", write_acks: "majority" },
  };
  return encodeInfo(info, [], null, record);
}

/** Builds a `.tar.gz` archive of `tables`, in memory. */
export async function buildArchive(tables: TestTable[]): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const archive = ArchiveWriter.create(
    new WritableStream({ write: (c) => void chunks.push(c.slice()) }),
  );
  for (const t of tables) {
    const real = jsonBody(t.docs);
    const info = infoBody(t, real);
    const json = t.tamper ? t.tamper(real.slice()) : real;
    const entries: [string, Uint8Array][] = [];
    if (t.omit !== "info") entries.push([entryPath(TEST_TOP, t.db, t.table, "info"), info]);
    if (t.omit !== "json") entries.push([entryPath(TEST_TOP, t.db, t.table, "json"), json]);
    if (t.jsonFirst) entries.reverse();
    for (const [path, body] of entries) await archive.addEntry(path, body.length, body);
  }
  await archive.finish();
  return concat(chunks);
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) (out.set(chunk, offset), offset += chunk.length);
  return out;
}

/** The archive's bytes as a stream, in chunks of `size` bytes. */
export function streamOf(
  bytes: Uint8Array,
  size = 64 * 1024,
): ReadableStream<Uint8Array<ArrayBuffer>> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + size));
      offset += size;
    },
  });
}

/** Gunzips `bytes` (a `.tar.gz`) into the plain `.tar`. */
export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = streamOf(bytes).pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Gzips `bytes`. */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = streamOf(bytes).pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Flips one byte of the first occurrence of `text` inside `bytes` (a tar), in place. */
export function flipInside(bytes: Uint8Array, text: string, delta = 1): Uint8Array {
  const needle = new TextEncoder().encode(text);
  outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    bytes[i + needle.length - 1] += delta;
    return bytes;
  }
  throw new Error(`${text} not found`);
}
