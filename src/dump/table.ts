/**
 * Exports one table: its metadata and documents, read in primary-key order and compressed (in a
 * worker, while the read goes on) into a spool, then appended to the archive (`.info` first,
 * then `.json`). A lost connection resumes the read after the last primary key written, so no
 * document is lost or written twice.
 *
 * @module
 */

import type {
  Connection,
  IndexStatus,
  TableInfo,
  TableName,
  WriteHook,
} from "../connection/driver.ts";
import { DOCUMENT_SEPARATOR, DocumentsEncoder } from "../archive/documents.ts";
import {
  type BackupRecord,
  encodeInfo,
  savedConfigFromTableConfig,
} from "../archive/table_info.ts";
import { ServerError } from "../connection/driver.ts";
import { VERSION } from "../version.ts";
import { entryPath } from "../archive/layout.ts";
import type { DeflateStream } from "../archive/deflate_pool.ts";
import type { ArchiveWriter } from "../archive/tar_writer.ts";
import type { Progress } from "../progress/progress.ts";
import type { Link } from "../connection/link.ts";
import { GENTLE_BATCH_BYTES } from "../throttle/backoff.ts";
import type { Throttle } from "../throttle/throttle.ts";
import { Spool } from "./spool.ts";

/** What every table export shares. */
export interface TableJob {
  /** The archive's top directory, `rethinkdb_dump_<date>T<time>`. */
  top: string;
  archive: ArchiveWriter;
  progress: Progress;
  /** Directory for spool files (exists). */
  spoolDir: string;
  /** Compressed bytes a spool keeps in memory before it moves to a file. */
  spoolMemoryBytes?: number;
  readOutdated: boolean;
  batchTimeoutMs: number;
  /** Aborted when the dump stops (signal or another table's failure). */
  signal: AbortSignal;
  /** `--max-rate` / `--backoff`, shared by every table. */
  throttle?: Throttle;
  /** Documents per read batch asked of the server; default the server's. */
  readBatchRows?: number;
}

/** What was saved for one table. */
export interface TableResult {
  name: TableName;
  documents: number;
  /** Size of the `.json` entry. */
  jsonBytes: number;
  indexes: number;
  writeHook: boolean;
}

/** What is read before the documents. */
interface TableMeta {
  info: TableInfo;
  indexes: IndexStatus[];
  writeHook: WriteHook | null;
  /** `table.config()`, or undefined when the user may not read it. */
  config: unknown;
}

let spoolCounter = 0;

/**
 * Exports `name` over `link` into `job.archive`; resolves once both entries are in the
 * archive and the spool is gone.
 *
 * @example
 * ```ts
 * const result = await exportTable(job, link, { db: "league", table: "users" });
 * console.log(result.documents);
 * ```
 */
export async function exportTable(
  job: TableJob,
  link: Link,
  name: TableName,
): Promise<TableResult> {
  const label = `${name.db}.${name.table}`;
  const { db, table } = name;
  // The official tool's queries (info, indexStatus, getWriteHook) and the config, sent in that
  // order without waiting for each answer: one round trip instead of four.
  const meta: TableMeta = await link.run(
    async (conn) => {
      const [info, indexes, writeHook, config] = await Promise.all([
        conn.tableInfo(db, table),
        conn.indexStatus(db, table),
        conn.writeHook(db, table),
        conn.tableConfig(db, table).catch((error) => {
          // A user without config permission still gets a complete dump, just without it.
          if (error instanceof ServerError) return undefined;
          throw error;
        }),
      ]);
      return { info, indexes, writeHook, config };
    },
    `reading the metadata of ${label}`,
    name,
  );
  const estimate = (meta.info.doc_count_estimates ?? []).reduce((a, b) => a + b, 0);
  job.progress.startTable(label, estimate);
  // Spool files are numbered: table names may hold characters a file system dislikes.
  const spool = new Spool(`${job.spoolDir}/${++spoolCounter}.json.deflate`, job.spoolMemoryBytes);
  const body = job.archive.deflate({ output: (chunk) => spool.write(chunk), sha256: true });
  try {
    const readStarted = new Date();
    const documents = await readDocuments(job, link, name, meta.info.primary_key, body, label);
    const json = await body.finish();
    await spool.finish();
    job.signal.throwIfAborted();
    const record: BackupRecord = {
      tool: "rethinkdb-backup",
      version: VERSION,
      documents,
      json_bytes: json.size,
      json_sha256: json.sha256!,
      read_started: readStarted.toISOString(),
      read_ended: new Date().toISOString(),
    };
    const config = savedConfigFromTableConfig(meta.config);
    if (config) record.config = config;
    const info = encodeInfo(meta.info, meta.indexes, meta.writeHook, record);
    // Queued back to back, so a table's `.info` directly precedes its `.json`.
    const infoAdded = job.archive.addEntry(
      entryPath(job.top, db, table, "info"),
      info.length,
      info,
    );
    const jsonAdded = job.archive.addDeflated(
      entryPath(job.top, db, table, "json"),
      { body: json, compressed: spool.chunks() },
    );
    await Promise.all([infoAdded, jsonAdded]);
    job.progress.finishTable(label);
    return {
      name,
      documents,
      jsonBytes: json.size,
      indexes: meta.indexes.length,
      writeHook: meta.writeHook !== null,
    };
  } finally {
    body.abort();
    await spool.remove();
  }
}

/**
 * Reads every document into `body` (the `.json` entry, being compressed), resuming after a lost
 * connection; returns the count.
 */
async function readDocuments(
  job: TableJob,
  link: Link,
  name: TableName,
  primaryKey: string,
  body: DeflateStream,
  label: string,
): Promise<number> {
  const encoder = new DocumentsEncoder();
  await body.write(encoder.begin());
  let documents = 0;
  let after: unknown = undefined;
  let started = false;
  while (true) {
    let conn: Connection | undefined;
    try {
      conn = await link.connection();
      const batches = conn.readTableRaw(name.db, name.table, {
        primaryKey,
        after: started ? after : undefined,
        readOutdated: job.readOutdated,
        batchTimeoutMs: job.batchTimeoutMs,
        maxBatchRows: job.readBatchRows,
        // Gentle: the server makes each batch in one go, and live queries wait for it.
        maxBatchBytes: job.throttle?.backoff ? GENTLE_BATCH_BYTES : undefined,
        // Documents joined as the entry lays them out, so a batch is copied in one piece.
        join: DOCUMENT_SEPARATOR,
      });
      for await (const batch of batches) {
        job.signal.throwIfAborted();
        if (batch.count === 0) continue;
        // Copied from the frame straight into the compressor's block.
        const size = encoder.appendRaw(batch, body);
        await body.ready();
        documents += batch.count;
        // The resume point moves only once the batch is handed to the compressor.
        after = batch.lastKey;
        started = true;
        job.progress.add(label, batch.count, size);
        link.succeeded();
        if (job.throttle) {
          // Paced here, after the batch is handed on and before the next is taken: the read
          // asks the server for a batch only as the one before it is taken, so this paces the
          // server. The round trip is the server's, however long the last batch was held.
          await job.throttle.settle(batch.roundTripMs, batch.count, size, job.signal);
          await job.throttle.take(batch.count, size, job.signal);
        }
      }
      break;
    } catch (error) {
      // A lost connection or an unavailable table (a restart, a failover): resume after `after`.
      await link.recover(error, `reading ${label}`, { conn, table: name });
    }
  }
  await body.write(encoder.end());
  return documents;
}
