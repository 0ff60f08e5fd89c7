/**
 * What a restore is asked to do: the programmatic form of `rethinkdb-backup restore`'s options.
 *
 * @module
 */

import type { ConnectOptions } from "../connection/driver.ts";
import type { ProgressOptions } from "../progress/progress.ts";
import type { PacingOptions } from "../throttle/throttle.ts";
import type { Removal } from "./cleanup.ts";

/**
 * Options of {@link import("./run.ts").restore}. Pacing (`maxRate`: `--max-rate`; `backoff`:
 * `--backoff`; or a caller's `throttle`) is documented in `src/throttle/throttle.ts`.
 */
export interface RestoreOptions extends PacingOptions {
  /** Server address and credentials (password already read from its source). */
  connect: ConnectOptions;
  /** Archive path, or `-` for stdin. */
  archive: string;
  /** `-i` selections, `DB` or `DB.TABLE` (`*` / `?` wildcards); empty means everything in the archive. */
  imports?: string[];
  /** `--exclude` patterns, `DB` or `DB.TABLE` with `*` / `?`; they win over `imports`. */
  excludes?: string[];
  /** `--rename FROM=TO` values (`DB=DB` or `DB.TABLE=DB.TABLE`); parse with `parseRenames`. */
  renames?: string[];
  /** Only report what would be done (`--dry-run`); see `planRestore` / `formatPlan`. */
  dryRun?: boolean;
  /** Concurrent insert connections (`--clients`, default 8). */
  clients?: number;
  /** Directory for entries that must wait for their `.info` (`--temp-dir`). */
  tempDir?: string;
  /** `durability: "hard"` instead of soft (`--hard-durability`). */
  hardDurability?: boolean;
  /** Insert into existing tables, replacing documents with the same primary key (`--force`). */
  force?: boolean;
  /** Skip secondary indexes (`--no-secondary-indexes`). */
  noSecondaryIndexes?: boolean;
  /** Shards of created tables (`--shards`). */
  shards?: number;
  /** Replicas of created tables (`--replicas`). */
  replicas?: number;
  /** Documents per insert query (`--batch-size`). */
  batchSize?: number;
  /** Progress and summary on stderr; `quiet` silences them. */
  progress?: ProgressOptions;
  /**
   * How long a run of failures (lost connections, a restart, an unavailable table) may last
   * before the restore gives up (`--retry-for`, ms, default 60000).
   */
  retryForMs?: number;
  /** Delay before the first reconnect, in ms, doubled for each further one (default 500). */
  retryDelayMs?: number;
  /**
   * Keep the tables and databases this run created when it fails or is interrupted
   * (`--keep-partial`); by default they are dropped.
   */
  keepPartial?: boolean;
  /** Aborting stops the restore; the reason is what `restore` rejects with. */
  signal?: AbortSignal;
}

/** What a finished (or stopped) restore did. */
export interface RestoreSummary {
  /** Documents inserted (or replaced with `force`). */
  documents: number;
  /** Tables fully restored. */
  tables: number;
  /** Secondary indexes created. */
  indexes: number;
  /** Write hooks set. */
  writeHooks: number;
  /** Wall-clock seconds. */
  seconds: number;
  /** Target `db.table` names written in part: data started, but not everything in. */
  incompleteTables: string[];
  /** Planned target tables with no document written (some may have been created empty). */
  notStarted: string[];
  /** Documents the server acknowledged per target `db.table`, incomplete tables included. */
  documentsByTable: Record<string, number>;
  /**
   * A point-in-time dump's changes replayed (durably) over the documents; absent for an
   * archive without change capture.
   */
  changes?: number;
  /** Changes replayed per target `db.table` (tables with at least one). */
  changesByTable?: Record<string, number>;
  /** The cut the archive's changes bring the tables to (ISO 8601), with change capture. */
  cut?: string;
  /** After a failure: what this run created and then dropped (absent with `keepPartial`). */
  removed?: Removal;
}
