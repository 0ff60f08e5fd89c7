/**
 * Table changefeeds on the wire, modelled on RethinkDB 2.4.4 (`rdb_protocol/changefeed.cc`) and
 * checked against `wire/changefeeds.jsonl` and a real server:
 *
 * - every response is partial (`t:3`) with notes `[1]` (SEQUENCE_FEED), `[1,5]` with
 *   `include_states`; the feed never ends by itself;
 * - the first response is sent at once: `{"state":"ready"}` with `include_states`, else empty;
 *   with `include_initial` it is `{"state":"initializing"}` (with states) and a first batch of the
 *   table's documents as `{"new_val":…}`, in reverse primary-key order (the real order follows
 *   hash sharding: never primary-key order), then later CONTINUEs get the rest of them, then
 *   `ready` and the changes;
 * - a CONTINUE with nothing to send is held until a change comes (or the feed fails); it is
 *   answered once the write that made the change is over, with all of that write's changes (the
 *   real server sometimes answers with the first ones only, depending on timing); a CONTINUE
 *   waiting behind another one is answered after it;
 * - changes queue while no CONTINUE is held; when more than `changefeed_queue_size` are queued,
 *   all the queued ones are dropped and counted, and the next read delivers only
 *   `{"error":"Changefeed cache over array size limit, skipped K elements."}` (50 unread inserts
 *   with a queue of 5: 8 drops of 6, "skipped 48", then the last 2 changes);
 * - `squash`: one queued change per document (first `old_val`, last `new_val`; a change that
 *   comes back to where it started disappears); `squash: N` makes a read wait N seconds for
 *   changes to gather, unless the previous batch was cut short or the queue passes half its size;
 * - a table dropped under a feed (or {@link Changefeed.abort}) answers the next read, or the held
 *   CONTINUE at once, with the runtime error `Changefeed aborted (unavailable).`, ending the feed.
 *
 * The documents sent at first are those of the table when the feed opened; changes made while
 * they are being sent are queued and sent after them (the real server interleaves them), so a
 * reader applying everything in order ends with the table's content.
 *
 * @module
 */

import type { Datum } from "../reql/datum.ts";
import { ErrorType, ResponseType } from "../reql/proto.ts";
import type { FeedOptions } from "../reql/values.ts";
import type { Entry } from "../store/doc_store.ts";
import type { Table, TableFeed } from "../store/table.ts";
import type { BatchLimits } from "./batching.ts";

/** A batch is cut after this long (ms) by default, as `max_batch_seconds` (0.5 s) does. */
const DEFAULT_MAX_BATCH_MS = 500;

/** The message of the error ending a feed whose table went away. */
export const FEED_ABORTED_MESSAGE = "Changefeed aborted (unavailable).";

/** How long (ms) a batch may take: the query's `max_batch_seconds`, else 500 ms. */
export function maxBatchMs(optargs: Readonly<Record<string, unknown>>): number {
  const s = optargs.max_batch_seconds;
  return typeof s === "number" && s >= 0 ? s * 1000 : DEFAULT_MAX_BATCH_MS;
}

/** The JSON of the item a reader finds after its feed overflowed. */
export function overflowItem(skipped: number): string {
  return JSON.stringify({
    error: `Changefeed cache over array size limit, skipped ${skipped} elements.`,
  });
}

/** Where a feed's responses go: its connection. */
export interface FeedSink {
  /** Sends a batch response; `items` is the number of items in it. */
  send(json: string, items: number): void;
  /**
   * The feed failed: send `json` (a runtime error), free the token, and answer the `orphans`
   * other CONTINUEs that were held behind the failed one (the token is no longer known).
   */
  fail(json: string, orphans: number): void;
}

interface Change {
  /** The document's primary key as JSON: changes of one document share it. */
  readonly id: string;
  readonly oldJson: string | undefined;
  readonly newJson: string | undefined;
}

/** Changes not read yet. */
interface ChangeQueue {
  readonly size: number;
  add(change: Change): void;
  /** Removes and returns the oldest change. */
  shift(): Change | undefined;
  clear(): void;
}

/** Every change, in commit order. */
class PlainQueue implements ChangeQueue {
  #items: (Change | undefined)[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  add(change: Change): void {
    this.#items.push(change);
  }

  shift(): Change | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const change = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    // Drop the consumed prefix now and then instead of shifting the array at every read.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return change;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}

/**
 * One change per document, in the order of each one's first queued change, like the real
 * server's `squashing_queue_t`.
 */
class SquashQueue implements ChangeQueue {
  readonly #changes = new Map<string, Change>();

  get size(): number {
    return this.#changes.size;
  }

  add(change: Change): void {
    const before = this.#changes.get(change.id);
    if (before === undefined) {
      this.#changes.set(change.id, change);
      return;
    }
    const merged = { id: change.id, oldJson: before.oldJson, newJson: change.newJson };
    // Inserted then deleted, or changed and changed back: nothing happened, as far as the reader
    // can tell. A later change of the document queues behind the others.
    if (merged.oldJson === merged.newJson) this.#changes.delete(change.id);
    else this.#changes.set(change.id, merged);
  }

  shift(): Change | undefined {
    for (const [id, change] of this.#changes) {
      this.#changes.delete(id);
      return change;
    }
    return undefined;
  }

  clear(): void {
    this.#changes.clear();
  }
}

/** A held CONTINUE. */
interface Waiter {
  /** When it came (performance.now()), for the batch's time limit. */
  readonly since: number;
  /** True once a `squash: N` wait is over for it. */
  squashed: boolean;
  timer?: ReturnType<typeof setTimeout>;
}

/** The table's documents when the feed opened, sent in batches. */
class InitialValues {
  #next: number;

  constructor(private readonly entries: readonly Entry[], private readonly types: boolean) {
    this.#next = entries.length - 1;
  }

  get done(): boolean {
    return this.#next < 0;
  }

  /** The next batch: at least one item, then up to the limits. */
  batch(maxRows: number, maxBytes: number): string[] {
    const items: string[] = [];
    let bytes = 0;
    while (this.#next >= 0 && items.length < maxRows && bytes < maxBytes) {
      const json = this.entries[this.#next--].json;
      const item = this.types ? `{"new_val":${json},"type":"initial"}` : `{"new_val":${json}}`;
      items.push(item);
      bytes += item.length;
    }
    return items;
  }
}

/**
 * One open changefeed on a whole table: subscribed to the table's changes from {@link open} until
 * it is stopped, closed or fails. The connection hands it the CONTINUEs of its token.
 */
export class Changefeed implements TableFeed {
  #state: "new" | "open" | "stopped" | "closed" | "failed" = "new";
  #aborted = false;
  #skipped = 0;
  #queue: ChangeQueue;
  #readySent = false;
  #initial: InitialValues | undefined;
  /** The last batch was cut by its limits: the next read does not wait for `squash: N`. */
  #midBatch = false;
  #waiters: Waiter[] = [];
  #serveQueued = false;
  readonly #notes: string;

  constructor(
    readonly table: Table,
    private readonly options: FeedOptions,
    /** The queue size in effect (the term's, else the query's, else the default). */
    private readonly queueSize: number,
    private readonly limits: BatchLimits,
    /** Time limit of a batch (ms), see {@link maxBatchMs}. */
    private readonly batchMs: number,
    private readonly sink: FeedSink,
  ) {
    // With initial values the real server turns squashing on once they are all sent.
    this.#queue = options.squash && !options.includeInitial ? new SquashQueue() : new PlainQueue();
    this.#notes = options.includeStates ? "[1,5]" : "[1]";
  }

  /** True once stopped by the client (a CONTINUE held back by a delay is answered empty). */
  get stopped(): boolean {
    return this.#state === "stopped";
  }

  /** Subscribes to the table and sends the first response (never held). */
  open(): void {
    if (this.#state !== "new") return;
    this.#state = "open";
    this.table.feeds.add(this);
    const firstBytes = Math.max(1, this.limits.maxBytes / this.limits.firstScaledown);
    if (this.options.includeInitial) {
      this.#initial = new InitialValues(this.table.docs.ordered(), this.options.includeTypes);
      const items = this.options.includeStates ? [this.#stateItem("initializing")] : [];
      items.push(...this.#initial.batch(this.limits.maxRows, firstBytes));
      if (this.#initial.done) this.#endInitial();
      if (items.length > 0) {
        this.#sendItems(items);
        return;
      }
    }
    this.#sendItems(this.#takeBatch(firstBytes, performance.now()) ?? []);
  }

  /** A CONTINUE: answered now if there is something to send, else when there is. */
  request(): void {
    if (this.#state !== "open") return;
    this.#waiters.push({ since: performance.now(), squashed: false });
    this.#serve();
  }

  /** STOP: unsubscribes; returns how many held CONTINUEs the caller must answer (empty `t:2`). */
  stop(): number {
    const held = this.#waiters.length;
    this.#detach("stopped");
    return held;
  }

  /** The connection closed: unsubscribes, answering nothing. */
  close(): void {
    this.#detach("closed");
  }

  change(key: Datum, oldJson: string | undefined, newJson: string | undefined): void {
    if (this.#state !== "open" || this.#aborted) return;
    this.#queue.add({ id: JSON.stringify(key), oldJson, newJson });
    const size = this.#queue.size;
    if (size > this.queueSize) {
      this.#skipped += size;
      this.#queue.clear();
    } else if (size > this.queueSize / 2) {
      // As the real server does, a nearly full queue ends a `squash: N` wait early.
      this.#endSquashWait();
    }
    // The write goes on synchronously: answer once it is over, with all its changes.
    if (this.#waiters.length > 0 && !this.#serveQueued) {
      this.#serveQueued = true;
      queueMicrotask(() => {
        this.#serveQueued = false;
        this.#serve();
      });
    }
  }

  abort(): void {
    if (this.#state !== "open" || this.#aborted) return;
    this.#aborted = true;
    this.table.feeds.delete(this);
    this.#serve();
  }

  /**
   * Drops the queued changes as an overflow would, so that the next read (a held CONTINUE at
   * once) gets the "skipped K elements" item; K counts the dropped changes, at least 1.
   */
  overflow(): void {
    if (this.#state !== "open" || this.#aborted) return;
    this.#skipped += this.#queue.size;
    this.#queue.clear();
    if (this.#skipped === 0) this.#skipped = 1;
    this.#endSquashWait();
    this.#serve();
  }

  /** Answers held CONTINUEs for as long as there is something to send. */
  #serve(): void {
    while (this.#state === "open" && this.#waiters.length > 0) {
      if (this.#aborted) {
        this.#fail();
        return;
      }
      const waiter = this.#waiters[0];
      let items: string[] | undefined;
      if (this.#initial !== undefined) {
        items = this.#initial.batch(this.limits.maxRows, this.limits.maxBytes);
        if (this.#initial.done) this.#endInitial();
      } else {
        if (!this.#squashWaitOver(waiter)) return;
        items = this.#takeBatch(this.limits.maxBytes, waiter.since);
        if (items === undefined) return;
      }
      this.#waiters.shift();
      clearTimeout(waiter.timer);
      this.#sendItems(items);
    }
  }

  /**
   * The real server's `get_els`: an overflow report alone, else the `ready` state (once) and
   * queued changes up to the batch limits; undefined when there is nothing to send.
   */
  #takeBatch(maxBytes: number, since: number): string[] | undefined {
    if (this.#skipped > 0) {
      const skipped = this.#skipped;
      this.#skipped = 0;
      return [overflowItem(skipped)];
    }
    if (!this.#hasItems()) return undefined;
    const items: string[] = [];
    let bytes = 0;
    while (this.#hasItems() && items.length < this.limits.maxRows && bytes < maxBytes) {
      const item = this.#nextItem();
      items.push(item);
      bytes += item.length;
    }
    this.#midBatch = items.length >= this.limits.maxRows || bytes >= maxBytes ||
      performance.now() - since >= this.batchMs;
    return items;
  }

  #hasItems(): boolean {
    return (this.options.includeStates && !this.#readySent) || this.#queue.size > 0;
  }

  #nextItem(): string {
    if (this.options.includeStates && !this.#readySent) {
      this.#readySent = true;
      return this.#stateItem("ready");
    }
    const { oldJson, newJson } = this.#queue.shift()!;
    const newVal = newJson ?? "null";
    const oldVal = oldJson ?? "null";
    if (!this.options.includeTypes) return `{"new_val":${newVal},"old_val":${oldVal}}`;
    const type = oldJson === undefined ? "add" : newJson === undefined ? "remove" : "change";
    return `{"new_val":${newVal},"old_val":${oldVal},"type":"${type}"}`;
  }

  #stateItem(state: "initializing" | "ready"): string {
    return this.options.includeTypes
      ? `{"state":"${state}","type":"state"}`
      : `{"state":"${state}"}`;
  }

  /**
   * With `squash: N` a read first waits N seconds for changes to gather, unless the last batch
   * was cut short and changes are waiting, or an overflow is to be reported.
   */
  #squashWaitOver(waiter: Waiter): boolean {
    const ms = this.options.squashMs;
    if (ms <= 0 || waiter.squashed || this.#skipped > 0) return true;
    if (this.#midBatch && this.#hasItems()) return true;
    waiter.timer ??= setTimeout(() => {
      waiter.timer = undefined;
      waiter.squashed = true;
      this.#serve();
    }, ms);
    return false;
  }

  #endSquashWait(): void {
    const waiter = this.#waiters[0];
    if (waiter?.timer === undefined) return;
    clearTimeout(waiter.timer);
    waiter.timer = undefined;
    waiter.squashed = true;
  }

  #endInitial(): void {
    this.#initial = undefined;
    if (this.options.squash && !(this.#queue instanceof SquashQueue)) {
      const squashing = new SquashQueue();
      for (let c = this.#queue.shift(); c !== undefined; c = this.#queue.shift()) squashing.add(c);
      this.#queue = squashing;
    }
  }

  #sendItems(items: string[]): void {
    this.sink.send(
      `{"t":${ResponseType.SUCCESS_PARTIAL},"r":[${items.join(",")}],"n":${this.#notes}}`,
      items.length,
    );
  }

  #fail(): void {
    const orphans = this.#waiters.length - 1;
    this.#detach("failed");
    this.sink.fail(
      JSON.stringify({
        t: ResponseType.RUNTIME_ERROR,
        e: ErrorType.OP_FAILED,
        r: [FEED_ABORTED_MESSAGE],
        b: [],
      }),
      orphans,
    );
  }

  #detach(state: "stopped" | "closed" | "failed"): void {
    if (this.#state === "new" || this.#state === "open") this.#state = state;
    this.table.feeds.delete(this);
    for (const w of this.#waiters) clearTimeout(w.timer);
    this.#waiters = [];
    this.#queue.clear();
    this.#initial = undefined;
  }
}
