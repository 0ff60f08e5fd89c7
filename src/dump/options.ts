/**
 * What a dump is asked to do: the programmatic form of `rethinkdb-backup dump`'s options.
 *
 * @module
 */

import type { ConnectOptions } from "../connection/driver.ts";
import type { ProgressOptions } from "../progress/progress.ts";
import type { PacingOptions } from "../throttle/throttle.ts";

/**
 * Options of {@link import("./run.ts").dump}. Pacing (`maxRate`: `--max-rate`; `backoff`:
 * `--backoff`; or a caller's `throttle`) is documented in `src/throttle/throttle.ts`.
 */
export interface DumpOptions extends PacingOptions {
  /** Server address and credentials (password already read from its source). */
  connect: ConnectOptions;
  /**
   * Output path; `-` writes the archive to stdout. When absent, the official default name
   * `rethinkdb_dump_<date>T<time>.tar.gz` in the current directory is used.
   */
  file?: string;
  /** Replace an existing output file (`--overwrite-file`). */
  overwrite?: boolean;
  /** `-e` selections, `DB` or `DB.TABLE` (`*` / `?` wildcards); empty means every table of every user database. */
  exports?: string[];
  /** `--exclude` patterns, `DB` or `DB.TABLE` with `*` / `?`; they win over `exports`. */
  excludes?: string[];
  /** Tables exported at once (`--clients`, default 3). */
  clients?: number;
  /**
   * Directory for spool files (`--temp-dir`); default the output file's directory (the system
   * temp directory with `file: "-"`).
   */
  tempDir?: string;
  /** Read with `read_mode: "outdated"` (`--read-outdated`). */
  readOutdated?: boolean;
  /** Gzip level 1–9 (`--compression-level`, default 6). */
  compressionLevel?: number;
  /**
   * Nice value of the compression threads, 0–19 (`--compression-nice`, default 19: they take
   * only the CPU the server leaves idle; 0 keeps the tool's own priority).
   */
  compressionNice?: number;
  /** Progress and summary on stderr; `quiet` silences them. */
  progress?: ProgressOptions;
  /** Aborting stops the dump; the reason (e.g. an InterruptedError) is what `dump` rejects with. */
  signal?: AbortSignal;
  /**
   * How long a run of failures (lost connections, a restart, an unavailable table) may last
   * before the dump gives up (`--retry-for`, ms, default 60000).
   */
  retryForMs?: number;
  /** Delay before the first retry, doubled each time (ms, default 500). */
  retryDelayMs?: number;
  /** Give up on a read batch after this long and retry (ms, default 120000). */
  batchTimeoutMs?: number;
  /** Time used for the default file name and the archive's top directory (tests). */
  now?: Date;
  /** Where `file: "-"` writes; default the process's stdout, left open afterwards (tests). */
  stdout?: WritableStream<Uint8Array>;
  /**
   * Bytes of a table's JSON kept in memory before it is spooled to a file in `tempDir`
   * (default 8 MiB; tests set 0 to force spool files).
   */
  spoolMemoryBytes?: number;
  /** Documents per read batch asked of the server (`max_batch_rows`; default the server's). */
  readBatchRows?: number;
  /**
   * Change capture, for one point in time across tables (default true; `--no-capture` turns it
   * off: each table is then as it was read, at its own moments).
   */
  capture?: boolean;
}

/** What a finished dump did. */
export interface DumpSummary {
  /** The archive written (`-` for stdout). */
  file: string;
  /** Documents written. */
  documents: number;
  /** Tables written. */
  tables: number;
  /** Secondary indexes saved (each counted once). */
  indexes: number;
  /** Write hooks saved. */
  writeHooks: number;
  /** Wall-clock seconds. */
  seconds: number;
  /** Bytes of JSON written for documents. */
  jsonBytes: number;
  /** With capture: the cut, the moment every table is brought to. */
  cut?: Date;
  /** Changes captured, in all tables. */
  changes: number;
}
