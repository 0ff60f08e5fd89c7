/**
 * Change capture for a point-in-time dump: the dump's counterpart of `mongodump --oplog`.
 *
 * Before a table's read starts, a changefeed on it is opened and confirmed ready; every change
 * the server sends from then on is appended to the table's change spool (`.changes` lines, see
 * `../archive/changes.ts`). When every table has been read, {@link Capture.cut} stops all feeds
 * at once: that moment is the cut. Replaying a table's changes over what its read saw gives the
 * table as it was at the cut, whatever moment each document was read at: a change made during
 * the read is in the feed, and the last change of a key decides its value.
 *
 * Feeds are not squashed: the server would merge an insert and a delete of one key into
 * nothing, and a read that saw the document between them would then keep it.
 *
 * All feeds share one connection, so that the STOPs of the cut leave together. A feed that
 * fails (overflow, error, lost connection) marks its table's capture failed; the dump then
 * reads that table again under a new feed (see `./table.ts`), or stops.
 *
 * @module
 */

import { encodeChange } from "../archive/changes.ts";
import type { ChangeFeed } from "../connection/changefeed.ts";
import type { TableName } from "../connection/driver.ts";
import type { Link } from "../connection/link.ts";
import { Spool } from "./spool.ts";

/**
 * Changes the server may queue for a feed that is not read fast enough. Past it the server
 * skips changes and says so, and the table is read again; the feed is read continuously, so
 * only a stalled spool file could get there.
 */
export const FEED_QUEUE_SIZE = 100_000;

/** Bytes of changes a table keeps in memory before its spool moves to a file. */
const CHANGES_MEMORY_BYTES = 256 * 1024;

/** Compressed bytes of tables waiting for the cut that stay in memory; beyond, they go to disk. */
const HELD_MEMORY_BYTES = 2 * 1024 * 1024;

let spoolCounter = 0;

/**
 * One table's capture: its feed and the changes received so far.
 *
 * @example
 * ```ts
 * const captured = await capture.watch({ db: "league", table: "users" }, "id");
 * // … read the table; captured.failure says whether a change may have been lost …
 * console.log(captured.changes);
 * ```
 */
export class TableCapture {
  readonly name: TableName;
  /** The raw `.changes` lines, in order. */
  readonly spool: Spool;
  /** Lines in {@link spool}. */
  changes = 0;
  #feed: ChangeFeed | undefined;
  #discarded: Error | undefined;

  constructor(name: TableName, spoolDir: string) {
    this.name = name;
    this.spool = new Spool(`${spoolDir}/${++spoolCounter}.changes`, CHANGES_MEMORY_BYTES);
  }

  /** Why the capture cannot be trusted, once a change may have been lost. */
  get failure(): Error | undefined {
    return this.#feed?.failure ?? this.#discarded;
  }

  /** Appends a batch of changes, as one write. */
  async add(lines: Uint8Array[]): Promise<void> {
    let size = 0;
    for (const line of lines) size += line.length;
    const joined = new Uint8Array(size);
    let p = 0;
    for (const line of lines) {
      joined.set(line, p);
      p += line.length;
    }
    this.changes += lines.length;
    await this.spool.write(joined);
  }

  /** @internal Set by {@link Capture.watch} once the feed is ready. */
  attach(feed: ChangeFeed): void {
    this.#feed = feed;
  }

  /** Ends the feed, keeping what the server sent before it saw the STOP. */
  async stop(): Promise<void> {
    // A feed that fails here says so in its `failure`.
    await this.#feed?.stop().catch(() => {});
    await this.spool.finish();
  }

  /** Gives the feed up and deletes the changes (the table is read again, or the dump failed). */
  async discard(): Promise<void> {
    this.#discarded ??= new Error("discarded");
    await this.#feed?.abandon().catch(() => {});
    await this.spool.remove();
  }
}

/** What {@link Capture} needs. */
export interface CaptureOptions {
  /** The connection every feed goes over (reconnected after a loss). */
  link: Link;
  /** Where change spools go (exists). */
  spoolDir: string;
}

/**
 * The feeds of one dump.
 *
 * @example
 * ```ts
 * const capture = new Capture({ link, spoolDir });
 * const users = await capture.watch({ db: "league", table: "users" }, "id");
 * // … read league.users …
 * const cut = await capture.cut();
 * console.log(cut.toISOString(), users.changes);
 * ```
 */
export class Capture {
  readonly #options: CaptureOptions;
  readonly #tables = new Set<TableCapture>();
  /** Bytes of held spools in memory ({@link hold}). */
  #heldInMemory = 0;

  constructor(options: CaptureOptions) {
    this.#options = options;
  }

  /**
   * Opens a feed on `name` and resolves once the server says it is ready. The primary key may
   * still be on its way: only the changes need it.
   */
  async watch(name: TableName, primaryKey: string | Promise<string>): Promise<TableCapture> {
    const captured = new TableCapture(name, this.#options.spoolDir);
    this.#tables.add(captured);
    const label = `${name.db}.${name.table}`;
    try {
      const feed = await this.#options.link.run(
        (conn) =>
          conn.changes(name.db, name.table, {
            primaryKey,
            queueSize: FEED_QUEUE_SIZE,
            what: `the changes of ${label}`,
            sink: (changes) => captured.add(changes.map(encodeChange)),
          }),
        `opening the changefeed of ${label}`,
        name,
      );
      captured.attach(feed);
      return captured;
    } catch (error) {
      this.#tables.delete(captured);
      await captured.spool.remove();
      throw error;
    }
  }

  /**
   * Keeps a read table's spool, which waits for the cut, in memory while the dump's budget allows
   * (2 MiB in all), else moves it to disk: waiting costs disk, not memory.
   */
  async hold(spool: Spool): Promise<void> {
    if (spool.onDisk) return;
    if (this.#heldInMemory + spool.size > HELD_MEMORY_BYTES) return await spool.spill();
    const size = spool.size;
    this.#heldInMemory += size;
    spool.onRemove = () => (this.#heldInMemory -= size);
  }

  /** Forgets a table's capture and deletes its changes (its table is read again). */
  async drop(captured: TableCapture): Promise<void> {
    this.#tables.delete(captured);
    await captured.discard();
  }

  /**
   * The cut: stops every feed at once and returns the moment the STOPs were sent. A capture that
   * failed, before or during the cut, says so in its `failure`.
   */
  async cut(): Promise<Date> {
    const at = new Date();
    await Promise.all([...this.#tables].map((captured) => captured.stop()));
    return at;
  }

  /** Gives up every feed and deletes every change spool. */
  async close(): Promise<void> {
    await Promise.all([...this.#tables].map((captured) => captured.discard()));
    this.#tables.clear();
  }
}
