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
  finishInfo,
  type PreparedInfo,
  prepareInfo,
  savedConfigFromTableConfig,
  type SavedTableConfig,
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
import type { Capture, TableCapture } from "./capture.ts";
import { FeedFailedError } from "../connection/changefeed.ts";
import { BackupError, firstLine } from "../errors.ts";
import type { DeflatedBody } from "../archive/deflate_pool.ts";

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
  /** Change capture (a point-in-time dump); without it each table is read at its own moment. */
  capture?: Capture;
  /** Warnings go here. */
  warn?: (line: string) => void;
}

/** What was saved for one table. */
export interface TableResult {
  name: TableName;
  documents: number;
  /** Size of the `.json` entry. */
  jsonBytes: number;
  indexes: number;
  writeHook: boolean;
  /** Changes captured (0 without capture). */
  changes: number;
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
 * Reads a table in full before the cut of a point-in-time dump gives up on it: a capture that
 * fails this often means changes come faster than they can be taken.
 */
export const CAPTURE_ATTEMPTS = 3;

/**
 * A table read, its entries not yet in the archive: with capture, thousands may wait for the
 * cut, so only what the entries need is kept, compactly.
 */
export interface ReadTable {
  name: TableName;
  /** The `.info` entry but for its backup record. */
  info: PreparedInfo;
  /** The configuration saved in the record, if the user may read it. */
  config: SavedTableConfig | undefined;
  indexes: number;
  writeHook: boolean;
  documents: number;
  /** The `.json` entry, compressed into {@link spool}. */
  json: DeflatedBody;
  spool: Spool;
  readStarted: Date;
  readEnded: Date;
  /** Its changes, with capture. */
  captured?: TableCapture;
  /** Reads of this table so far. */
  attempts: number;
}

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
  return await writeTable(job, await readTable(job, link, name));
}

/**
 * Reads `name` into a spool: metadata, then (with capture) a ready changefeed, then the
 * documents. A capture that fails during the read makes the table be read again under a new
 * feed, up to {@link CAPTURE_ATTEMPTS} reads in all (counting `previous`'s).
 *
 * @example
 * ```ts
 * const read = await readTable(job, link, { db: "league", table: "users" });
 * // … after the cut …
 * await writeTable(job, read, cut);
 * ```
 */
export async function readTable(
  job: TableJob,
  link: Link,
  name: TableName,
  previous = 0,
): Promise<ReadTable> {
  const label = `${name.db}.${name.table}`;
  const { db, table } = name;
  // The official tool's queries (info, indexStatus, getWriteHook) and the config, sent in that
  // order without waiting for each answer: one round trip instead of four.
  const metadata = link.run(
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
  // The first feed opens beside the metadata queries: its changes need only the primary key.
  const primaryKey = metadata.then((meta) => meta.info.primary_key);
  primaryKey.catch(() => {});
  let watching = job.capture?.watch(name, primaryKey);
  watching?.catch(() => {});
  const meta: TableMeta = await metadata;
  const estimate = (meta.info.doc_count_estimates ?? []).reduce((a, b) => a + b, 0);
  for (let attempts = previous + 1;; attempts++) {
    // Counted from zero again on a second read.
    job.progress.startTable(label, estimate);
    let captured: TableCapture | undefined;
    try {
      captured = await (watching ?? job.capture?.watch(name, primaryKey));
      watching = undefined;
    } catch (error) {
      watching = undefined;
      if (!(error instanceof FeedFailedError)) throw error;
      retryCapture(job, label, error, attempts, "trying again");
      continue;
    }
    // Spool files are numbered: table names may hold characters a file system dislikes.
    const spool = new Spool(`${job.spoolDir}/${++spoolCounter}.json.deflate`, job.spoolMemoryBytes);
    const body = job.archive.deflate({ output: (chunk) => spool.write(chunk), sha256: true });
    let kept = false;
    try {
      const readStarted = new Date();
      const documents = await readDocuments(
        job,
        link,
        name,
        meta.info.primary_key,
        body,
        label,
        captured,
      );
      const json = await body.finish();
      await spool.finish();
      job.signal.throwIfAborted();
      if (captured) await job.capture!.hold(spool);
      kept = true;
      return {
        name,
        info: prepareInfo(meta.info, meta.indexes, meta.writeHook),
        config: savedConfigFromTableConfig(meta.config),
        indexes: meta.indexes.length,
        writeHook: meta.writeHook !== null,
        documents,
        json,
        spool,
        readStarted,
        readEnded: new Date(),
        captured,
        attempts,
      };
    } catch (error) {
      if (!(error instanceof FeedFailedError) || !captured) throw error;
      retryCapture(job, label, error, attempts, `reading ${label} again`);
    } finally {
      body.abort();
      if (!kept) {
        await spool.remove();
        if (captured) await job.capture!.drop(captured);
      }
    }
  }
}

/**
 * Reads again, under a new feed, a table whose capture failed after its read (the other feeds
 * run on meanwhile), or throws once it has been read {@link CAPTURE_ATTEMPTS} times.
 *
 * @example
 * ```ts
 * while (read.captured?.failure) read = await readAgain(job, link, read);
 * ```
 */
export async function readAgain(job: TableJob, link: Link, read: ReadTable): Promise<ReadTable> {
  const label = `${read.name.db}.${read.name.table}`;
  retryCapture(job, label, read.captured!.failure, read.attempts, `reading ${label} again`);
  await read.spool.remove();
  await job.capture!.drop(read.captured!);
  return await readTable(job, link, read.name, read.attempts);
}

/**
 * After a capture failed on the `attempts`-th read of a table: warns that it is tried again
 * (`next` says how), or throws the one-line error of a table whose changes cannot be captured.
 */
function retryCapture(
  job: TableJob,
  label: string,
  error: unknown,
  attempts: number,
  next: string,
): void {
  if (attempts < CAPTURE_ATTEMPTS) return job.warn?.(`${firstLine(error)}; ${next}`);
  throw new BackupError(
    `${label}: its changes could not be captured in ${attempts} reads (${
      firstLine(error)
    }): the dump cannot hold one point in time; run it again when writes are fewer, or with ` +
      `--no-capture for a dump without one`,
    undefined,
    { cause: error },
  );
}

/**
 * Appends a read table's entries to the archive: `.info` (with the capture record when `cut` is
 * given), `.json`, and `.changes` when it has changes. Removes the spools.
 *
 * @example
 * ```ts
 * const result = await writeTable(job, read, cut);
 * console.log(result.documents, result.changes);
 * ```
 */
export async function writeTable(
  job: TableJob,
  read: ReadTable,
  cut?: Date,
): Promise<TableResult> {
  const { name, json, spool, captured } = read;
  const { db, table } = name;
  const label = `${db}.${table}`;
  let changes: { body: DeflatedBody; spool: Spool } | undefined;
  try {
    const record: BackupRecord = {
      tool: "rethinkdb-backup",
      version: VERSION,
      documents: read.documents,
      json_bytes: json.size,
      json_sha256: json.sha256!,
      read_started: read.readStarted.toISOString(),
      read_ended: read.readEnded.toISOString(),
    };
    if (read.config) record.config = read.config;
    if (captured && cut) {
      if (captured.changes > 0) changes = await compressChanges(job, captured);
      record.capture = {
        cut: cut.toISOString(),
        changes: captured.changes,
        changes_bytes: changes?.body.size ?? 0,
        changes_sha256: changes?.body.sha256 ?? EMPTY_SHA256,
      };
    }
    const info = finishInfo(read.info, record);
    // Queued back to back, so a table's `.info` directly precedes its `.json`.
    const added = [
      job.archive.addEntry(entryPath(job.top, db, table, "info"), info.length, info),
      job.archive.addDeflated(
        entryPath(job.top, db, table, "json"),
        { body: json, compressed: spool.chunks() },
      ),
    ];
    if (changes) {
      added.push(job.archive.addDeflated(
        entryPath(job.top, db, table, "changes"),
        { body: changes.body, compressed: changes.spool.chunks() },
      ));
    }
    await Promise.all(added);
    job.progress.finishTable(label);
    return {
      name,
      documents: read.documents,
      jsonBytes: json.size,
      indexes: read.indexes,
      writeHook: read.writeHook,
      changes: captured?.changes ?? 0,
    };
  } finally {
    await spool.remove();
    await changes?.spool.remove();
    await captured?.spool.remove();
  }
}

/** SHA-256 of no bytes: the record of a table without changes. */
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** Compresses a table's change lines into a spool of their own, for the `.changes` entry. */
async function compressChanges(
  job: TableJob,
  captured: TableCapture,
): Promise<{ body: DeflatedBody; spool: Spool }> {
  const spool = new Spool(
    `${job.spoolDir}/${++spoolCounter}.changes.deflate`,
    job.spoolMemoryBytes,
  );
  const stream = job.archive.deflate({ output: (chunk) => spool.write(chunk), sha256: true });
  try {
    for await (const chunk of captured.spool.chunks()) await stream.write(chunk);
    const body = await stream.finish();
    await spool.finish();
    return { body, spool };
  } catch (error) {
    stream.abort();
    await spool.remove();
    throw error;
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
  captured?: TableCapture,
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
        // A change may have been lost: this read cannot be brought to the cut.
        if (captured?.failure) throw captured.failure;
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
  if (captured?.failure) throw captured.failure;
  await body.write(encoder.end());
  return documents;
}
