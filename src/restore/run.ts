/**
 * `restore`: plan from the archive, then stream it into the cluster with tables overlapping.
 *
 * Data flow: options → pre-scan (a file archive is read once and checked: structure, JSON,
 * recorded counts and SHA-256s) → plan (selection, `--exclude`, `--rename`, existing tables) →
 * tables created ahead of the data, several at once → one streaming pass inserting each table's
 * batches on `clients` connections → a point-in-time dump's changes of the table replayed over
 * its durable documents (`./replay.ts`) → per table, once its data is in: secondary indexes,
 * saved configuration, write hook, in the background while the next tables' data goes in.
 *
 * From stdin the archive cannot be read twice: each table is planned, checked and its creation
 * started when its `.info` arrives. A `.json` that arrives before its table is ready is held in
 * memory (up to {@link LOOKAHEAD_BYTES} in all) and written once the table is ready, while the
 * stream reads on and the next tables are created. Every entry goes through the same checks as
 * `verify` (an {@link ArchiveCatalog}) as it streams past, tables not restored included, and the
 * first problem stops the restore. A table's `.changes` comes after its `.json`: it is replayed
 * from the stream once the table's documents are durable; while a held `.json` is still being
 * written, the `.changes` is held too within the same budget, or else the stream waits for it.
 *
 * A restore that fails or is interrupted drops the tables and databases it created
 * (`./cleanup.ts`), unless `keepPartial`: the same command can then simply be run again.
 *
 * @module
 */

import {
  type ArchiveEntry,
  ArchiveError,
  DEFAULT_BATCH_BYTES,
  DEFAULT_BATCH_DOCUMENTS,
  type DocumentBatch,
  readArchive,
  type TableMetadata,
} from "../archive/mod.ts";
import { planTableConfig } from "../archive/table_config.ts";
import { connect, type Connection } from "../connection/driver.ts";
import { commandLink, type Link } from "../connection/link.ts";
import { BackupError } from "../errors.ts";
import { allProblems, ArchiveCatalog, type InspectedTable } from "../inspect/catalog.ts";
import { ChangesEntryCheck } from "../inspect/changes_check.ts";
import type { JsonEntryCheck } from "../inspect/json_check.ts";
import { type Prescan, prescanArchive, prescanError } from "../inspect/prescan.ts";
import { Progress } from "../progress/progress.ts";
import { throttleFor } from "../throttle/throttle.ts";
import { type CreatedByRun, describeRemoval, type Removal, removeCreated } from "./cleanup.ts";
import { describeStop, RestoreLedger } from "./ledger.ts";
import type { RestoreOptions, RestoreSummary } from "./options.ts";
import { describeExisting, type PlanEntry, planPrescanned } from "./plan.ts";
import { parseRenames, targetOf } from "./rename.ts";
import { type ChangeBatch, ChangeBatcher, replayChanges } from "./replay.ts";
import { isSelected, parseSelections } from "./selection.ts";
import { openArchive } from "./source.ts";
import { MemoryGovernor } from "../memory/governor.ts";
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
 * Tables being created at once. The server creates tables in parallel far faster than one
 * after another (measured on 2.4.4: 273 ms each serially, 2.0 s for 100 at once); beyond 64 at
 * once the gain was below the noise, and each creation costs the cluster a Raft round.
 */
const CREATE_CONCURRENCY = 64;

/**
 * From stdin: `.json` bytes held at most while their tables are being created. Enough for the
 * data of many small tables (whose creation dominates a restore), small beside a server's memory.
 */
const LOOKAHEAD_BYTES = 64 * 1024 * 1024;

/** Retry policy, as dump's: the time budget, and the first delay (doubled each time). */
export const RETRY = { retryForMs: 60_000, retryDelayMs: 500 } as const;

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
  const excludes = parseSelections(options.excludes ?? [], "--exclude");
  const renames = parseRenames(options.renames ?? []);
  const force = options.force === true;
  const progress = new Progress("restore", options.progress);
  // One throttle for every table and connection: the rate holds for the run.
  const throttle = throttleFor(options);
  if (throttle) progress.note = () => throttle.note();
  const ledger = new RestoreLedger();
  const counts = { indexes: 0, writeHooks: 0 };
  const background: Promise<void>[] = [];
  let pool: WriterPool | undefined;
  let control: Connection | undefined;
  /** The first connection's link, which plans before the pool exists. */
  let planning: Link | undefined;
  // Stops reconnecting (and everything on the links) on an abort or a failure.
  const stop = new AbortController();
  const forward = () => stop.abort(options.signal!.reason);
  options.signal?.addEventListener("abort", forward, { once: true });
  /** `.json` entries waiting for their `.info`: the spool file and the entry they came from. */
  const spools = new Map<string, { file: string; path: string; size: number }>();
  /** Target tables whose creation was started, and those the server answered. */
  const creations = new Map<string, Promise<void>>();
  const answered = new Set<string>();
  /** Databases that existed when the run started (listed once connected). */
  let databasesBefore: Set<string> | undefined;
  /** Source `db.table` → what to do with it. From stdin, filled as `.info`s arrive. */
  const plan = new Map<string, PlanEntry>();
  // Started where the `finally` that stops it is sure to run.
  const governor = MemoryGovernor.start();
  try {
    const scan = options.archive === "-"
      ? undefined
      : await prescanArchive(await openArchive(options.archive));
    if (scan) {
      const damaged = prescanError(scan, options.archive);
      if (damaged) throw damaged;
      scan.warnings.forEach((w) => progress.warn(w));
    }
    // Every connection rides out losses and unavailable tables, with dump's retry policy and a
    // warning each; any such failure may have cost soft writes (see WriterPool.failures).
    const signal = stop.signal;
    const linkOf = (conn: Connection) =>
      commandLink({
        address: options.connect,
        retryForMs: options.retryForMs ?? RETRY.retryForMs,
        retryDelayMs: options.retryDelayMs ?? RETRY.retryDelayMs,
        signal,
        warn: (line) => progress.warn(line),
        onFailure: () => pool?.noteFailure(),
      }, conn);
    control = await connect(options.connect);
    const planner = planning = linkOf(control);
    const existing = new Set(
      (await planner.run((conn) => conn.listTables(), "listing the tables")).map((t) =>
        `${t.db}.${t.table}`
      ),
    );
    databasesBefore = new Set(
      await planner.run((conn) => conn.listDatabases(), "listing the databases"),
    );
    const checkKey = (entry: PlanEntry) =>
      planner.run(
        (conn) => checkPrimaryKey(conn, entry),
        `checking ${nameOf(entry.target)}`,
        entry.target,
      );

    if (scan) {
      for (const entry of planFromScan(scan, options, existing, progress)) {
        plan.set(nameOf(entry.source), entry);
        ledger.plan(nameOf(entry.target));
      }
      for (const entry of plan.values()) {
        if (entry.action === "insert") await checkKey(entry);
      }
    }
    const others = await Promise.all(
      Array.from(
        { length: Math.max(0, (options.clients ?? 8) - 1) },
        () => connect(options.connect),
      ),
    );
    pool = new WriterPool([planner, ...others.map(linkOf)]);
    const writer = pool;

    const writeOptions: TableWriteOptions = {
      durability: options.hardDurability ? "hard" : "soft",
      force,
      signal: options.signal,
      throttle,
    };
    let serverCount: Promise<number> | undefined;
    const limitCreate = limiter(CREATE_CONCURRENCY);
    /** Creates (or, with `--force`, reuses) a target table once; later calls share the work. */
    const prepare = (entry: PlanEntry): Promise<void> => {
      const target = nameOf(entry.target);
      let creation = creations.get(target);
      if (!creation) {
        creation = limitCreate(async () => {
          // Once the run has failed, a creation still queued never starts.
          stop.signal.throwIfAborted();
          const exists = entry.action === "insert";
          const saved = entry.meta.backup?.config;
          const needsCount = !exists &&
            (options.replicas !== undefined || saved?.replicas !== undefined);
          const count = needsCount
            ? await (serverCount ??= writer.run((c) => c.serverCount(), "counting the servers"))
            : 1;
          const config = planTableConfig(
            target,
            saved,
            { shards: options.shards, replicas: options.replicas },
            count,
          );
          config.warnings.forEach((w) => progress.warn(w));
          const { db, table } = entry.target;
          let attempts = 0;
          await writer.run(
            async (conn) => {
              await prepareTable(
                conn,
                db,
                table,
                entry.meta,
                {
                  ...writeOptions,
                  ...config.create,
                },
                exists,
                attempts++ > 0,
              );
              if (!exists && Object.keys(config.update).length > 0) {
                await conn.updateTableConfig(db, table, config.update);
              }
            },
            `creating ${target}`,
            entry.target,
          );
          if (!exists) ledger.advance(target, "created");
        });
        creation.then(() => answered.add(target), () => answered.add(target));
        creations.set(target, creation);
        // Awaited where the table is written; a failure here must not go unhandled meanwhile.
        creation.catch(() => {});
      }
      return creation;
    };
    // From a file, every table is known: create the databases once (not one attempt per
    // table), then the tables ahead of the data, in archive order.
    const newDbs = new Set(
      [...plan.values()].filter((e) => e.action === "create").map((e) => e.target.db),
    );
    await Promise.all(
      [...newDbs].filter((db) => !databasesBefore!.has(db)).map((db) =>
        writer.run(async (conn) => {
          try {
            await conn.createDatabase(db);
          } catch (error) {
            // Sent again after a lost connection, a creation that went through finds its db.
            if (!/already exists/.test((error as Error).message)) throw error;
          }
        }, `creating database ${db}`)
      ),
    );
    for (const entry of plan.values()) void prepare(entry);

    const finishTable = async (entry: PlanEntry) => {
      const target = nameOf(entry.target);
      const { db, table } = entry.target;
      if (!options.noSecondaryIndexes) {
        // Read first: an attempt cut short leaves indexes that a retry finds, made by this run.
        const task = `creating the indexes of ${target}`;
        const before = entry.meta.indexes.length === 0 ? [] : await writer.run(
          (conn) => conn.indexStatus(db, table),
          task,
          entry.target,
        );
        await writer.run(
          (conn) => restoreIndexes(conn, db, table, entry.meta),
          task,
          entry.target,
        );
        // Counted after the awaits: tables finish concurrently.
        counts.indexes += entry.meta.indexes.filter((i) =>
          !before.some((b) => b.index === i.index)
        ).length;
      }
      const hook = entry.meta.writeHook;
      if (hook) {
        await writer.run(
          (conn) => conn.setWriteHook(db, table, hook.function),
          `setting the write hook of ${target}`,
          entry.target,
        );
        counts.writeHooks++;
      }
      ledger.advance(target, "complete");
      progress.finishTable(target);
    };

    const catalog = new ArchiveCatalog();
    /** Indexes, configuration and hook, once the table's data (and changes) are all in. */
    const finishInBackground = (entry: PlanEntry) => {
      const finishing = finishTable(entry);
      finishing.catch(() => {});
      background.push(finishing);
    };
    const restoreTable = async (
      entry: PlanEntry,
      body: ReadableStream<Uint8Array>,
      json: Pick<ArchiveEntry, "path" | "size">,
    ) => {
      const target = nameOf(entry.target);
      await prepare(entry);
      ledger.advance(target, "writing");
      progress.startTable(target, entry.documents ?? estimateOf(entry.meta));
      const table = catalog.table(entry.source);
      // A file was checked whole before writing; stdin is checked as it is written.
      const check = catalog.jsonCheck(json, table, {
        keepBatches: true,
        hash: !scan,
        primaryKey: !scan,
        batchDocuments: options.batchSize ?? DEFAULT_BATCH_DOCUMENTS,
        batchBytes: DEFAULT_BATCH_BYTES,
      });
      await insertBatches(
        pool!,
        entry.target.db,
        entry.target.table,
        checkedBatches(body, check, () => catalog.endJson(table, check), table),
        {
          ...writeOptions,
          onBatch: (docs, bytes) => progress.add(target, docs, bytes),
          // Written means durable: what a crash may still lose is not counted.
          onDurable: (docs) => ledger.acknowledge(target, docs),
        },
      );
      // Indexes and the hook go on while the next tables' data streams in; a table with changes
      // is finished by their replay.
      if (!hasChanges(entry.meta)) finishInBackground(entry);
    };
    /** Replays a table's `.changes` over its durable documents, then finishes the table. */
    const replayTable = async (
      entry: PlanEntry,
      body: ReadableStream<Uint8Array>,
      check: ChangesEntryCheck,
      end: () => void,
    ) => {
      const target = nameOf(entry.target);
      const table = catalog.table(entry.source);
      await replayChanges(
        pool!,
        entry.target.db,
        entry.target.table,
        checkedChanges(body, check, end, table, {
          batchChanges: options.batchSize ?? DEFAULT_BATCH_DOCUMENTS,
          batchBytes: DEFAULT_BATCH_BYTES,
        }),
        {
          durability: writeOptions.durability,
          signal: options.signal,
          throttle,
          onBatch: (changes) => progress.addChanges(target, changes),
          // Replayed means durable, as written does.
          onDurable: (changes) => ledger.replayed(target, changes),
        },
      );
      finishInBackground(entry);
    };

    /** The plan entry of a source table, planning it now when reading stdin. */
    const entryFor = async (name: string, meta: TableMetadata): Promise<PlanEntry> => {
      // Known before anything of the table is written, as the plan of a file would know it.
      const known = plan.get(name);
      if (known) return known;
      const [db, table] = splitName(name);
      const target = targetOf(renames, db, table);
      const exists = existing.has(nameOf(target));
      if (exists && !force) throw existingTables([nameOf(target)]);
      const entry: PlanEntry = {
        source: { db, table },
        target,
        action: exists ? "insert" : "create",
        meta,
      };
      if (exists) await checkKey(entry);
      plan.set(name, entry);
      ledger.plan(nameOf(target));
      return entry;
    };

    const ready = new Set<string>();
    let held = 0;
    let heldFailure: { error: unknown } | undefined;
    /** Source tables whose held `.json` is still being written, and that writing. */
    const writing = new Map<string, Promise<void>>();
    /** Runs `work` on bytes held in memory, in the background. */
    const inBackground = (bytes: Uint8Array, work: () => Promise<void>) => {
      held += bytes.length;
      const task = work()
        .catch((error) => {
          heldFailure ??= { error };
          throw error;
        })
        .finally(() => (held -= bytes.length));
      task.catch(() => {});
      background.push(task);
      return task;
    };
    /** Writes a table from a `.json` held in memory, in the background. */
    const restoreHeld = (entry: PlanEntry, bytes: Uint8Array, json: ArchiveEntry) => {
      const name = nameOf(entry.source);
      const task = inBackground(
        bytes,
        () => restoreTable(entry, ReadableStream.from([bytes]), json),
      )
        .finally(() => writing.delete(name));
      task.catch(() => {});
      writing.set(name, task);
    };
    const source = await openArchive(options.archive, options.input);
    for await (const item of readArchive(source)) {
      options.signal?.throwIfAborted();
      if (heldFailure) throw heldFailure.error;
      const checked = catalog.classify(item);
      if (checked.kind === "problem") throw new ArchiveError(checked.problem);
      if (checked.kind === "skip") {
        if (!scan && checked.warning) progress.warn(checked.warning);
        await item.body.cancel();
        continue;
      }
      const name = `${checked.path.db}.${checked.path.table}`;
      const table = catalog.table(checked.path);
      const wanted = scan
        ? plan.has(name)
        : isSelected(selections, checked.path.db, checked.path.table, excludes);
      if (scan && (!wanted || checked.kind === "info")) {
        await item.body.cancel();
        continue;
      }
      if (checked.kind === "changes") {
        const entry = plan.get(name);
        if (scan) {
          // Checked whole by the pre-scan: only read now, after the table's documents.
          const check = new ChangesEntryCheck(item.path, entry!.meta.primaryKey, {
            keep: true,
            hash: false,
            validate: false,
          });
          await replayTable(entry!, item.body, check, () => void check.end());
          continue;
        }
        // A wanted table's .info came first (the rules), so it is planned.
        const replaying = wanted && entry !== undefined;
        const check = catalog.changesCheck(item, table, { keep: replaying });
        if (check === undefined) {
          refuseOn(table);
          await item.body.cancel();
          continue;
        }
        const end = () => catalog.endChanges(table, check);
        if (!replaying) {
          // Not restored, but checked all the same: stdin refuses what a file would.
          for await (const chunk of item.body) check.feed(chunk);
          end();
          refuseOn(table);
          continue;
        }
        const documents = writing.get(name);
        if (documents !== undefined && held + item.size <= LOOKAHEAD_BYTES) {
          // Its documents are still going in from memory: the changes wait beside them.
          const bytes = new Uint8Array(await new Response(item.body).arrayBuffer());
          inBackground(bytes, async () => {
            await documents;
            await replayTable(entry!, ReadableStream.from([bytes]), check, end);
          });
        } else {
          await documents;
          await replayTable(entry!, item.body, check, end);
        }
        continue;
      }
      if (checked.kind === "info") {
        await catalog.readInfo(item, table);
        refuseOn(table);
        if (!wanted) continue;
        const entry = await entryFor(name, table.metadata!);
        // Created while the stream reads on; its data waits for it.
        const target = nameOf(entry.target);
        prepare(entry).then(() => ready.add(target), () => {});
        const spool = spools.get(name);
        if (spool !== undefined) {
          spools.delete(name);
          try {
            const file = await Deno.open(spool.file);
            await restoreTable(entry, file.readable, spool);
          } finally {
            await Deno.remove(spool.file).catch(() => {});
          }
        }
        continue;
      }
      // Seen now, though a held table's data is checked later: the end of the stream pairs it.
      table.jsonPath = item.path;
      table.jsonBytes = item.size;
      const entry = plan.get(name);
      if (!wanted) {
        // Not restored, but checked all the same: stdin refuses what a file would.
        const check = catalog.jsonCheck(item, table);
        for await (const chunk of item.body) check.feed(chunk);
        catalog.endJson(table, check);
        refuseOn(table);
      } else if (entry === undefined) {
        spools.set(name, {
          file: await spoolEntry(item.body, options.tempDir),
          path: item.path,
          size: item.size,
        });
      } else if (!scan && !ready.has(nameOf(entry.target)) && held + item.size <= LOOKAHEAD_BYTES) {
        const bytes = new Uint8Array(await new Response(item.body).arrayBuffer());
        restoreHeld(entry, bytes, item);
      } else {
        await restoreTable(entry, item.body, item);
      }
    }
    let cut = scan?.archive.cut;
    if (!scan) {
      // What only the end of the stream shows: a table with one of its two entries (or without
      // the changes its .info counts), a .json read before its .info that does not match it.
      const finished = catalog.finish();
      cut = finished.cut;
      const problems = allProblems(finished);
      if (problems.length > 0) throw new ArchiveError(problems[0]);
    }
    // Background work adds more (a held table's data, then its indexes) as it goes.
    while (background.length > 0) await Promise.all(background.splice(0));
    return summarize(ledger, counts, started, cut);
  } catch (failure) {
    // An interruption is reported as such, whatever it broke on its way.
    const error = options.signal?.aborted ? options.signal.reason : failure;
    // Stop what still runs in the background before reporting: closing the connections makes
    // every pending query fail at once, and the aborted links do not reconnect.
    if (!stop.signal.aborted) stop.abort(error);
    await pool?.close();
    while (background.length > 0) await Promise.allSettled(background.splice(0));
    const summary = summarize(ledger, counts, started, undefined);
    const created = createdByRun(plan, creations, answered, databasesBefore);
    let removal: Removal | undefined;
    if (!options.keepPartial) {
      removal = await removeCreated(() => connect(options.connect), created);
      summary.removed = removal;
    }
    if (
      error instanceof BackupError &&
      (summary.incompleteTables.length + summary.notStarted.length > 0 ||
        created.tables.length > 0)
    ) {
      Object.assign(error, {
        summary: describeFailedRun(ledger, removal, options.keepPartial === true),
        restoreSummary: summary,
      });
    }
    throw error;
  } finally {
    governor.stop();
    options.signal?.removeEventListener("abort", forward);
    progress.stop();
    // Before the pool exists, the planning connection is closed on its own.
    if (pool) await pool.close();
    else if (planning) await planning.dispose();
    else await control?.close();
    for (const spool of spools.values()) await Deno.remove(spool.file).catch(() => {});
  }
}

/** Stops the restore at a table's first problem. */
function refuseOn(table: InspectedTable): void {
  if (table.problems.length > 0) throw new ArchiveError(table.problems[0]);
}

/** Whether a table's `.info` counts changes to replay: its `.changes` then finishes it. */
function hasChanges(meta: TableMetadata): boolean {
  return (meta.backup?.capture?.changes ?? 0) > 0;
}

/**
 * A `.changes` entry's batches as its check passes them: the restore stops at the first bad
 * line, before the batch that holds it is sent, and after the last line is checked against the
 * table's `.info` (`end` records what was read) before the last batch is sent.
 */
async function* checkedChanges(
  body: ReadableStream<Uint8Array>,
  check: ChangesEntryCheck,
  end: () => void,
  table: InspectedTable,
  limits: { batchChanges: number; batchBytes: number },
): AsyncGenerator<ChangeBatch> {
  const batcher = new ChangeBatcher(limits);
  for await (const chunk of body) {
    check.feed(chunk);
    if (check.problem !== undefined) throw new ArchiveError(check.problem);
    for (const change of check.take()) {
      const batch = batcher.push(change);
      if (batch) yield batch;
    }
  }
  end();
  refuseOn(table);
  if (check.problem !== undefined) throw new ArchiveError(check.problem);
  for (const change of check.take()) {
    const batch = batcher.push(change);
    if (batch) yield batch;
  }
  const last = batcher.finish();
  if (last) yield last;
}

/**
 * A `.json` entry's batches as its check passes them: the restore stops at the first problem,
 * before the batch that holds it is written, and after the last batch is checked against the
 * table's `.info` (`end` records what was read) before it is written.
 */
async function* checkedBatches(
  body: ReadableStream<Uint8Array>,
  check: JsonEntryCheck,
  end: () => void,
  table: InspectedTable,
): AsyncGenerator<DocumentBatch> {
  for await (const chunk of body) {
    check.feed(chunk);
    if (check.problem !== undefined) throw new ArchiveError(check.problem);
    yield* check.take();
  }
  end();
  refuseOn(table);
  yield* check.take();
}

/** What this run created: the tables it started creating, and their new databases. */
function createdByRun(
  plan: Map<string, PlanEntry>,
  creations: Map<string, Promise<void>>,
  answered: Set<string>,
  databasesBefore: Set<string> | undefined,
): CreatedByRun {
  const entries = [...plan.values()].filter((e) =>
    e.action === "create" && creations.has(nameOf(e.target))
  );
  const inFlight = new Set(
    entries.map((e) => nameOf(e.target)).filter((name) => !answered.has(name)),
  );
  const databases = databasesBefore === undefined
    ? []
    : [...new Set(entries.map((e) => e.target.db))].filter((db) => !databasesBefore.has(db));
  return { tables: entries.map((e) => e.target), inFlight, databases };
}

/** The summary line of a run that stopped early, with what became of what it created. */
function describeFailedRun(
  ledger: RestoreLedger,
  removal: Removal | undefined,
  kept: boolean,
): string {
  const stop = describeStop(ledger.outcome());
  if (kept) return `${stop}; kept what this run created (--keep-partial)`;
  const removed = removal === undefined ? "" : describeRemoval(removal);
  return removed === "" ? stop : `${stop}; ${removed}`;
}

/**
 * The plan of a scanned archive, in archive order; throws (nothing written) when the real run
 * must refuse.
 */
function planFromScan(
  scan: Prescan,
  options: RestoreOptions,
  existing: Set<string>,
  progress: Progress,
): PlanEntry[] {
  const plan = planPrescanned(scan, options, existing);
  if (plan.refusals.length > 0) throw new BackupError(plan.refusals.join("; "));
  plan.warnings.forEach((w) => progress.warn(w));
  const selections = parseSelections(options.imports ?? []);
  const excludes = parseSelections(options.excludes ?? [], "--exclude");
  for (const name of scan.data) {
    const [db, table] = splitName(name);
    if (!scan.infos.has(name) && isSelected(selections, db, table, excludes)) {
      progress.warn(`${name}: the archive has its .json but no .info; table skipped`);
    }
  }
  const order = [...scan.archive.tables.keys()];
  return plan.entries.sort((a, b) =>
    order.indexOf(nameOf(a.source)) - order.indexOf(nameOf(b.source))
  );
}

function existingTables(names: string[]): BackupError {
  return new BackupError(describeExisting(names));
}

/** With `--force`, the existing target table's primary key must be the archive's. */
async function checkPrimaryKey(conn: Connection, entry: PlanEntry): Promise<void> {
  const actual = (await conn.tableInfo(entry.target.db, entry.target.table)).primary_key;
  if (actual !== entry.meta.primaryKey) {
    throw new BackupError(
      `table ${
        nameOf(entry.target)
      } exists with primary key \`${actual}\` but the archive's is \`${entry.meta.primaryKey}\`; restore it under another name (--rename) or drop the table`,
    );
  }
}

function summarize(
  ledger: RestoreLedger,
  counts: { indexes: number; writeHooks: number },
  started: number,
  cut: string | undefined,
): RestoreSummary {
  const outcome = ledger.outcome();
  const replayed = cut === undefined && outcome.changes === 0
    ? {}
    : { changes: outcome.changes, changesByTable: outcome.changesByTable, cut };
  return {
    ...replayed,
    documents: outcome.documents,
    tables: outcome.complete.length,
    indexes: counts.indexes,
    writeHooks: counts.writeHooks,
    seconds: (performance.now() - started) / 1000,
    incompleteTables: outcome.partial,
    notStarted: outcome.notStarted,
    documentsByTable: outcome.documentsByTable,
  };
}

/** Runs at most `limit` of the given tasks at once. */
function limiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const queue: (() => void)[] = [];
  return async (task) => {
    if (running >= limit) await new Promise<void>((resolve) => queue.push(resolve));
    running++;
    try {
      return await task();
    } finally {
      running--;
      queue.shift()?.();
    }
  };
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

function nameOf(t: { db: string; table: string }): string {
  return `${t.db}.${t.table}`;
}

function splitName(name: string): [string, string] {
  const dot = name.indexOf(".");
  return [name.slice(0, dot), name.slice(dot + 1)];
}

function estimateOf(meta: TableMetadata): number {
  const estimates = meta.raw.doc_count_estimates;
  return Array.isArray(estimates) ? estimates.reduce((a: number, b) => a + Number(b), 0) : 0;
}
