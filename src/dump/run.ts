/**
 * `dump`: options → plan → per-table workers → archive.
 *
 * Checks everything that can be checked before writing (output name, selected tables, temp
 * directory), then exports `clients` tables at once, each over its own connection, into one
 * streaming archive. On any failure or abort, the archive's temporary file and every spool file
 * are removed and nothing appears under the final name.
 *
 * @module
 */

import { dirname } from "node:path";
import { archiveBaseName, defaultArchiveFileName } from "../archive/layout.ts";
import { ArchiveWriter } from "../archive/tar_writer.ts";
import { DeflatePool } from "../archive/deflate_pool.ts";
import { DEFAULT_COMPRESSION_LEVEL } from "../archive/gzip_member.ts";
import { connect, type Connection } from "../connection/driver.ts";
import { Progress } from "../progress/progress.ts";
import { throttleFor } from "../throttle/throttle.ts";
import { describeFsError } from "./fs_errors.ts";
import { commandLink, type Link } from "../connection/link.ts";
import type { DumpOptions, DumpSummary } from "./options.ts";
import { checkTarget, openFileOutput, type Output, stdoutOutput } from "./output.ts";
import { planTables } from "./plan.ts";
import { runPool } from "./pool.ts";
import {
  exportTable,
  readAgain,
  type ReadTable,
  readTable,
  type TableJob,
  type TableResult,
  writeTable,
} from "./table.ts";
import { Capture } from "./capture.ts";
import { MemoryGovernor } from "../memory/governor.ts";
import { BackupError, firstLine } from "../errors.ts";

/** Defaults of the tuning options. */
export const DUMP_DEFAULTS = {
  clients: 3,
  retryForMs: 60_000,
  retryDelayMs: 500,
  batchTimeoutMs: 120_000,
  /** The lowest priority Unix has: compression takes only the CPU the server leaves idle. */
  compressionNice: 19,
} as const;

/**
 * Dumps the selected tables into a `.tar.gz` archive in the official format.
 *
 * Rejects with a one-line {@link import("../errors.ts").BackupError} on failure, or with
 * `options.signal`'s reason when aborted; in both cases nothing is left on disk.
 *
 * @example
 * ```ts
 * const summary = await dump({
 *   connect: { host: "localhost", port: 28015 },
 *   file: "backup.tar.gz",
 *   exports: ["league"],
 * });
 * console.log(`${summary.documents} documents in ${summary.seconds}s`);
 * ```
 */
export async function dump(options: DumpOptions): Promise<DumpSummary> {
  const started = performance.now();
  const now = options.now ?? new Date();
  options.signal?.throwIfAborted();
  const toStdout = options.file === "-";
  const target = toStdout
    ? "-"
    : await checkTarget(options.file ?? defaultArchiveFileName(now), options.overwrite ?? false);

  // One controller stops everything: the caller's signal, or the first failing table.
  const controller = new AbortController();
  const { signal } = controller;
  const forward = () => controller.abort(options.signal!.reason);
  options.signal?.addEventListener("abort", forward, { once: true });

  const progress = new Progress("dump", toStdout ? { quiet: true } : options.progress);
  // One throttle for every table: the rate holds for the run.
  const throttle = throttleFor(options);
  if (throttle) progress.note = () => throttle.note();
  const links: Link[] = [];
  let first: Connection | undefined;
  let spoolDir: string | undefined;
  let output: Output | undefined;
  let archive: ArchiveWriter | undefined;
  let capture: Capture | undefined;
  let captureLink: Link | undefined;
  /** With capture: tables read and waiting for the cut. */
  let reads: ReadTable[] = [];
  const clients = Math.max(1, options.clients ?? DUMP_DEFAULTS.clients);
  // Started before connecting, so that the first worker loads while the tables are planned.
  const compression = new DeflatePool({
    level: options.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL,
    // Tables in flight compress in parallel, up to one worker per core.
    workers: Math.min(clients, navigator.hardwareConcurrency || 1),
    nice: options.compressionNice ?? DUMP_DEFAULTS.compressionNice,
  });
  compression.prestart();
  const abortArchive = () => void archive?.abort(signal.reason);
  signal.addEventListener("abort", abortArchive, { once: true });
  // Started where the `finally` that stops it is sure to run.
  const governor = MemoryGovernor.start();
  try {
    first = await abortable(connect(options.connect), signal, (conn) => conn.close());
    const linkFor = (worker: number): Link =>
      links[worker] ??= commandLink({
        address: options.connect,
        retryForMs: options.retryForMs ?? DUMP_DEFAULTS.retryForMs,
        retryDelayMs: options.retryDelayMs ?? DUMP_DEFAULTS.retryDelayMs,
        signal,
        warn: (line) => progress.warn(line),
        // The planning connection is reused by the first worker: one login fewer.
      }, worker === 0 ? first : undefined);
    // The feeds' own connection, opened while the tables are planned: the cut's STOPs leave
    // together, and no read waits on a feed.
    captureLink = options.capture === false ? undefined : commandLink({
      address: options.connect,
      retryForMs: options.retryForMs ?? DUMP_DEFAULTS.retryForMs,
      retryDelayMs: options.retryDelayMs ?? DUMP_DEFAULTS.retryDelayMs,
      signal,
      warn: (line) => progress.warn(line),
    });
    captureLink?.connection().catch(() => {}); // a failure shows when the first feed opens
    const tables = await abortable(
      linkFor(0).run(
        (conn) => planTables(conn, options.exports, options.excludes, (w) => progress.warn(w)),
        "listing the tables",
      ),
      signal,
    );
    spoolDir = await makeSpoolDir(options.tempDir ?? (toStdout ? undefined : dirname(target)));
    signal.throwIfAborted();
    output = toStdout
      ? stdoutOutput(options.stdout)
      : await openFileOutput(target, !!options.overwrite);
    archive = ArchiveWriter.create(output.sink, { mtime: now, pool: compression });
    if (captureLink) capture = new Capture({ link: captureLink, spoolDir });
    const job: TableJob = {
      top: archiveBaseName(now),
      archive,
      progress,
      spoolDir,
      spoolMemoryBytes: options.spoolMemoryBytes,
      readOutdated: options.readOutdated ?? false,
      batchTimeoutMs: options.batchTimeoutMs ?? DUMP_DEFAULTS.batchTimeoutMs,
      signal,
      throttle,
      readBatchRows: options.readBatchRows,
      capture,
      warn: (line) => progress.warn(line),
    };
    let results: TableResult[];
    let cut: Date | undefined;
    if (capture) {
      reads = await runPool(
        tables,
        clients,
        controller,
        (table, worker) => readTable(job, linkFor(worker), table),
      );
      cut = await cutAll(job, capture, reads, linkFor(0));
      // A few at once: a table's change entry is compressed while the next tables go in. Each
      // table's entries stay together, and its spools are removed once they are in.
      const held = reads;
      reads = [];
      results = await runPool(held, clients, controller, (read) => writeTable(job, read, cut));
    } else {
      results = await runPool(
        tables,
        clients,
        controller,
        (table, worker) => exportTable(job, linkFor(worker), table),
      );
    }
    await closeAll(links);
    await archive.finish();
    signal.throwIfAborted();
    await output.commit();
    return summarize(output.name, results, started, cut);
  } catch (error) {
    const reason = options.signal?.aborted ? options.signal.reason : error;
    if (!signal.aborted) controller.abort(reason);
    await archive?.abort(reason);
    await output?.discard();
    throw reason;
  } finally {
    governor.stop();
    signal.removeEventListener("abort", abortArchive);
    options.signal?.removeEventListener("abort", forward);
    progress.stop();
    compression.close();
    await capture?.close();
    await captureLink?.dispose();
    await Promise.all(reads.map((read) => read.spool.remove()));
    await closeAll(links);
    if (links.length === 0) await first?.close();
    if (spoolDir) await Deno.remove(spoolDir, { recursive: true }).catch(() => {});
  }
}

/**
 * Reads again the tables whose capture failed after their read (the other feeds run on
 * meanwhile), then makes the cut. Throws if a capture cannot be brought to the cut.
 */
async function cutAll(
  job: TableJob,
  capture: Capture,
  reads: ReadTable[],
  link: Link,
): Promise<Date> {
  for (let i = 0; i < reads.length; i++) {
    while (reads[i].captured!.failure) reads[i] = await readAgain(job, link, reads[i]);
  }
  const cut = await capture.cut();
  const lost = reads.find((read) => read.captured!.failure);
  if (lost) {
    throw new BackupError(
      `${lost.name.db}.${lost.name.table}: its changefeed failed at the cut (${
        firstLine(lost.captured!.failure)
      }): the dump cannot hold one point in time; run it again`,
    );
  }
  return cut;
}

/** Creates the directory that holds this dump's spool files, or explains why it cannot. */
async function makeSpoolDir(parent: string | undefined): Promise<string> {
  try {
    return await Deno.makeTempDir({ dir: parent, prefix: ".rethinkdb-dump-spool-" });
  } catch (error) {
    const where = parent ?? "the system temp directory";
    throw describeFsError(error, "create spool files in", where, "temp");
  }
}

/**
 * Waits for `promise` unless `signal` aborts first; a value that arrives after the abort is
 * handed to `discard` (e.g. a connection to close).
 */
function abortable<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  discard?: (value: T) => unknown,
): Promise<T> {
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) {
          discard?.(value);
          reject(signal.reason);
        } else resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

async function closeAll(links: Link[]): Promise<void> {
  await Promise.all(links.filter(Boolean).map((link) => link.dispose()));
}

function summarize(
  file: string,
  results: TableResult[],
  started: number,
  cut: Date | undefined,
): DumpSummary {
  let documents = 0;
  let changes = 0;
  let jsonBytes = 0;
  let indexes = 0;
  let writeHooks = 0;
  for (const result of results) {
    documents += result.documents;
    changes += result.changes;
    jsonBytes += result.jsonBytes;
    indexes += result.indexes;
    if (result.writeHook) writeHooks++;
  }
  return {
    file,
    documents,
    tables: results.length,
    indexes,
    writeHooks,
    seconds: (performance.now() - started) / 1000,
    jsonBytes,
    cut,
    changes,
  };
}
