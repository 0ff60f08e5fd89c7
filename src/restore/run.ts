/**
 * `restore`: plan from the archive, then stream it into the cluster table by table.
 *
 * Data flow: options → catalog (a file archive is scanned once, so every structural problem,
 * missing `-i` name and existing table is reported before anything is written) → one streaming
 * pass over the archive → per table: create, insert batches on `clients` connections, indexes,
 * write hook.
 *
 * @module
 */

import {
  decodeInfo,
  DEFAULT_BATCH_BYTES,
  DEFAULT_BATCH_DOCUMENTS,
  splitDocuments,
  type TableMetadata,
} from "../archive/mod.ts";
import { connect, type Connection } from "../connection/driver.ts";
import { BackupError } from "../errors.ts";
import { Progress } from "../progress/progress.ts";
import type { RestoreOptions, RestoreSummary } from "./options.ts";
import { isSelected, parseSelections, type Selection, unmatchedSelections } from "./selection.ts";
import { type ArchiveCatalog, classifyEntries, openArchive, scanArchive } from "./source.ts";
import {
  insertBatches,
  prepareTable,
  restoreIndexes,
  type TableWriteOptions,
  WriterPool,
} from "./writer.ts";

/** Options of {@link restore} that only tests and embedders need. */
export interface RestoreInput {
  /** Read the archive from this stream when `archive` is `-` (default stdin). */
  input?: ReadableStream<Uint8Array>;
}

/**
 * Restores an archive (ours or the official tool's) into a cluster.
 *
 * @example
 * ```ts
 * const summary = await restore({
 *   connect: { host: "localhost", port: 28015 },
 *   archive: "rethinkdb_dump_2026-11-23T20:07:40.tar.gz",
 *   imports: ["league"],
 * });
 * console.log(summary.documents);
 * ```
 */
export async function restore(options: RestoreOptions & RestoreInput): Promise<RestoreSummary> {
  const started = performance.now();
  const selections = parseSelections(options.imports ?? []);
  const summary: RestoreSummary = {
    documents: 0,
    tables: 0,
    indexes: 0,
    writeHooks: 0,
    seconds: 0,
    incompleteTables: [],
  };
  const progress = new Progress("restore", options.progress);
  const pending = new Set<string>();
  let pool: WriterPool | undefined;
  const spools = new Map<string, string>();
  try {
    const catalog = options.archive === "-"
      ? undefined
      : await scanArchive(await openArchive(options.archive));
    catalog?.warnings.forEach((w) => progress.warn(w));
    const control = await connect(options.connect);
    // Holds the control connection so that `finally` closes it if planning fails.
    pool = new WriterPool([control]);
    const existingTables = new Set(
      (await control.listTables()).map((t) => `${t.db}.${t.table}`),
    );
    if (catalog) {
      const planned = planFromCatalog(catalog, selections, progress);
      await checkExisting(
        control,
        planned,
        existingTables,
        options.force === true,
        (name) => catalog.infos.get(name)!,
      );
      planned.forEach((name) => pending.add(name));
    }
    const others = await Promise.all(
      Array.from(
        { length: Math.max(0, (options.clients ?? 8) - 1) },
        () => connect(options.connect),
      ),
    );
    pool = new WriterPool([control, ...others]);

    const writeOptions: TableWriteOptions = {
      durability: options.hardDurability ? "hard" : "soft",
      force: options.force === true,
      shards: options.shards,
      replicas: options.replicas,
      signal: options.signal,
    };
    const infos = new Map<string, TableMetadata>();
    const restored = new Set<string>();

    const restoreTable = async (
      name: string,
      meta: TableMetadata,
      body: ReadableStream<Uint8Array>,
      entryPath: string,
    ) => {
      const [db, table] = splitName(name);
      pending.add(name);
      progress.startTable(name, estimateOf(meta));
      await prepareTable(control, db, table, meta, writeOptions, existingTables.has(name));
      summary.documents += await insertBatches(
        pool!,
        db,
        table,
        splitDocuments(body, entryPath, {
          batchDocuments: options.batchSize ?? DEFAULT_BATCH_DOCUMENTS,
          batchBytes: DEFAULT_BATCH_BYTES,
        }),
        { ...writeOptions, onBatch: (docs, bytes) => progress.add(name, docs, bytes) },
      );
      if (!options.noSecondaryIndexes) {
        summary.indexes += await restoreIndexes(control, db, table, meta);
      }
      if (meta.writeHook) {
        await control.setWriteHook(db, table, meta.writeHook.function);
        summary.writeHooks++;
      }
      restored.add(name);
      pending.delete(name);
      summary.tables++;
      progress.finishTable(name);
    };

    const source = await openArchive(options.archive, options.input);
    for await (const item of classifyEntries(source)) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (item.kind === "skip") {
        if (!catalog && item.warning) progress.warn(item.warning);
        await item.entry.body.cancel();
        continue;
      }
      const name = `${item.path.db}.${item.path.table}`;
      if (!isSelected(selections, item.path.db, item.path.table)) {
        await item.entry.body.cancel();
        continue;
      }
      if (item.kind === "info") {
        let meta = catalog?.infos.get(name);
        if (meta) await item.entry.body.cancel();
        else {
          meta = decodeInfo(
            new Uint8Array(await new Response(item.entry.body).arrayBuffer()),
            item.entry.path,
          );
          // From stdin the archive cannot be scanned first: check each table before writing it.
          const known = meta;
          await checkExisting(control, [name], existingTables, options.force === true, () => known);
        }
        infos.set(name, meta);
        const spool = spools.get(name);
        if (spool !== undefined) {
          spools.delete(name);
          try {
            const file = await Deno.open(spool);
            await restoreTable(name, meta, file.readable, `${item.entry.path.slice(0, -5)}.json`);
          } finally {
            await Deno.remove(spool).catch(() => {});
          }
        }
      } else {
        const meta = infos.get(name) ?? catalog?.infos.get(name);
        if (meta) {
          infos.set(name, meta);
          await restoreTable(name, meta, item.entry.body, item.entry.path);
        } else if (catalog) {
          await item.entry.body.cancel(); // no .info anywhere: warned about by the plan
        } else {
          spools.set(name, await spoolEntry(item.entry.body, options.tempDir));
        }
      }
    }
    for (const name of spools.keys()) {
      progress.warn(`${name}: the archive has its .json but no .info; table skipped`);
    }
    // Tables with a .info but no .json: restore the (empty) table, its indexes and hook.
    for (const [name, meta] of infos) {
      if (!restored.has(name)) {
        await restoreTable(name, meta, emptyArray(), `${name}.json`);
      }
    }
    summary.seconds = (performance.now() - started) / 1000;
    return summary;
  } catch (error) {
    summary.incompleteTables = [...pending].sort();
    summary.seconds = (performance.now() - started) / 1000;
    if (error instanceof BackupError && summary.incompleteTables.length > 0) {
      Object.assign(error, {
        summary: `restore stopped: ${summary.documents} documents written; incomplete tables: ${
          summary.incompleteTables.join(", ")
        }`,
        restoreSummary: summary,
      });
    }
    throw error;
  } finally {
    progress.stop();
    await pool?.close();
    for (const path of spools.values()) await Deno.remove(path).catch(() => {});
  }
}

/** The selected tables of a scanned archive; errors for `-i` names it does not hold. */
function planFromCatalog(
  catalog: ArchiveCatalog,
  selections: Selection[],
  progress: Progress,
): string[] {
  const all = [...catalog.infos.keys()].map((name) => {
    const [db, table] = splitName(name);
    return { db, table };
  });
  const missing = unmatchedSelections(selections, all);
  if (missing.length > 0) {
    throw new BackupError(
      `-i ${missing.map((s) => s.text).join(", ")}: not in the archive (it holds ${
        [...catalog.infos.keys()].sort().join(", ") || "no tables"
      })`,
    );
  }
  for (const name of catalog.data) {
    const [db, table] = splitName(name);
    if (!catalog.infos.has(name) && isSelected(selections, db, table)) {
      progress.warn(`${name}: the archive has its .json but no .info; table skipped`);
    }
  }
  return all.filter((t) => isSelected(selections, t.db, t.table)).map((t) => `${t.db}.${t.table}`);
}

/**
 * Without `--force`, any existing table stops the restore before anything is written. With it,
 * an existing table must have the archive's primary key.
 */
async function checkExisting(
  conn: Connection,
  names: string[],
  existingTables: Set<string>,
  force: boolean,
  metaOf: (name: string) => TableMetadata,
): Promise<void> {
  const clashes = names.filter((name) => existingTables.has(name));
  if (clashes.length === 0) return;
  if (!force) {
    throw new BackupError(
      `${clashes.length === 1 ? "table" : "tables"} ${clashes.join(", ")} already ${
        clashes.length === 1 ? "exists" : "exist"
      }; nothing was written. Use --force to insert into existing tables (documents with the same primary key are replaced), or -i to restore other tables`,
    );
  }
  for (const name of clashes) await checkPrimaryKey(conn, name, metaOf(name));
}

/** With `--force`, the existing table's primary key must be the archive's. */
async function checkPrimaryKey(
  conn: Connection,
  name: string,
  meta: TableMetadata,
): Promise<void> {
  const [db, table] = splitName(name);
  const actual = (await conn.tableInfo(db, table)).primary_key;
  if (actual !== meta.primaryKey) {
    throw new BackupError(
      `table ${name} exists with primary key \`${actual}\` but the archive's is \`${meta.primaryKey}\`; restore it into another database or drop the table`,
    );
  }
}

async function spoolEntry(
  body: ReadableStream<Uint8Array>,
  tempDir: string | undefined,
): Promise<string> {
  let path: string;
  try {
    path = await Deno.makeTempFile({
      dir: tempDir,
      prefix: "rethinkdb-restore-",
      suffix: ".spool",
    });
  } catch {
    throw new BackupError(
      `--temp-dir ${
        tempDir ?? "(system default)"
      }: cannot create a spool file there; give a writable directory`,
    );
  }
  const file = await Deno.open(path, { write: true });
  await body.pipeTo(file.writable);
  return path;
}

function emptyArray(): ReadableStream<Uint8Array> {
  return new Blob(["[]"]).stream();
}

function splitName(name: string): [string, string] {
  const dot = name.indexOf(".");
  return [name.slice(0, dot), name.slice(dot + 1)];
}

function estimateOf(meta: TableMetadata): number {
  const estimates = meta.raw.doc_count_estimates;
  return Array.isArray(estimates) ? estimates.reduce((a: number, b) => a + Number(b), 0) : 0;
}
