/**
 * The archive format of `rethinkdb dump`: `.tar.gz` files holding, under one top-level
 * directory `rethinkdb_dump_<date>T<time>`, a `<db>/<table>.info` (metadata) and a
 * `<db>/<table>.json` (documents) per table.
 *
 * @example
 * ```ts
 * import { ArchiveWriter, DocumentsEncoder, archiveBaseName, entryPath } from "./mod.ts";
 *
 * const archive = ArchiveWriter.create(new WritableStream());
 * const encoder = new DocumentsEncoder();
 * const body = [encoder.begin(), encoder.encode([{ id: 1 }]), encoder.end()];
 * const bytes = new Uint8Array(await new Blob(body).arrayBuffer());
 * const top = archiveBaseName(new Date());
 * await archive.addEntry(entryPath(top, "db", "t", "json"), bytes.length, bytes);
 * await archive.finish();
 * ```
 *
 * @module
 */

export type {
  Document,
  IndexStatus,
  RawBinary,
  TableInfo,
  WriteHook,
} from "../connection/driver.ts";
export * from "./errors.ts";
export * from "./layout.ts";
export * from "./tar_writer.ts";
export * from "./tar_reader.ts";
export * from "./table_info.ts";
export * from "./documents.ts";
