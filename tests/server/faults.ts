/**
 * Fault injection for the test server: cut connections after some documents or bytes, delay
 * responses, refuse new connections, fail queries with a chosen error, restart the server as
 * after a SIGKILL, end or overflow changefeeds. Every fault is off until armed and
 * {@link Faults.reset} disarms them all.
 *
 * Document and byte counts are global across connections and start when the fault is armed; the
 * connection that crosses the threshold is the one closed, and the fault then disarms itself.
 * Changefeed batches count too (each item: change, initial value, state or overflow report).
 *
 * Changefeeds also end when their connection does: a restart, a cut or `dropConnections()`
 * closes the connection under them, and the client sees it lost, as with a real server.
 *
 * @module
 */

import { ErrorType, TermType } from "./reql/proto.ts";
import type { Store } from "./store/store.ts";
import type { Table } from "./store/table.ts";

/** What a query matcher is shown. */
export interface QueryInfo {
  /** The root term type of the query (e.g. `TermType.INSERT`). */
  readonly termType: number | undefined;
  /** The query's term in wire JSON. */
  readonly term: unknown;
  /** Global optional arguments. */
  readonly optargs: Readonly<Record<string, unknown>>;
  /** Sequence number of the connection (1 for the first accepted one). */
  readonly connectionId: number;
}

/**
 * Selects queries: a root term type number (see `TermType`), or a predicate. Use
 * {@link containsTerm} in predicates to match a term anywhere in the query.
 */
export type QueryMatcher = number | ((query: QueryInfo) => boolean);

/** The error a failed query is answered with. */
export interface InjectedError {
  /** Error text (`r[0]` of the response). */
  message: string;
  /** Response type: runtime (18, default), compile (17) or client (16) error. */
  responseType?: 16 | 17 | 18;
  /** `e` of a runtime error; default OP_FAILED (4100000). */
  errorType?: number;
}

/**
 * How refused connections behave: `"refuse"` stops listening, so that connecting fails at once
 * (ECONNREFUSED) as with a server that is down, and listens again on the same port when
 * connections are accepted again; `"close"` accepts and closes at once; `"hang"` accepts and
 * never answers.
 */
export type RefuseMode = "refuse" | "close" | "hang";

/** Options of {@link Faults.restart}. */
export interface RestartOptions {
  /** How long (ms) the server is down: connecting is refused. Default 0. */
  downMs?: number;
  /**
   * How long (ms) after it is up again the tables are not ready: reads and writes of their
   * documents fail, `wait()` waits. Default 1000.
   */
  unavailableMs?: number;
}

/**
 * @internal What the server lets faults act on: its data, its connections and its listener.
 * Given to {@link Faults.attach} by `startTestServer`.
 */
export interface FaultsHost {
  readonly store: Store;
  /** Closes every client connection; resolves once each one's serving has ended. */
  dropConnections(): Promise<void>;
  /**
   * Stops (false) or resumes (true) listening on the server's port; resolves once that is in
   * effect (a closed listener may answer a connection with a reset for a moment).
   */
  listen(on: boolean): Promise<void>;
}

/** A restart whose phases are still to come. */
interface PendingRestart {
  timers: ReturnType<typeof setTimeout>[];
  /** The tables it made not ready, and their shared promise. */
  tables: Table[];
  notReady: Promise<void>;
  ready: () => void;
  /** Refusal mode before the restart, restored when the server is up. */
  refuseBefore: RefuseMode | undefined;
}

interface Threshold {
  limit: number;
  seen: number;
}

interface FailRule {
  match: QueryMatcher;
  error: InjectedError;
  remaining: number;
}

/**
 * Selects changefeeds by their table: `{db, table}` for the feeds on one table, `{db}` for those
 * on any table of a database.
 */
export interface FeedMatcher {
  db: string;
  table?: string;
}

interface OverflowRule {
  match: FeedMatcher | undefined;
  remaining: number;
}

/** @internal An armed {@link Faults.delayResponses}. */
export interface DelayRule {
  match: QueryMatcher | undefined;
  ms: number;
  remaining: number;
}

/** True if `type` occurs anywhere in a wire term (for {@link QueryMatcher} predicates). */
export function containsTerm(term: unknown, type: number): boolean {
  if (Array.isArray(term)) {
    if (term[0] === type) return true;
    if (term[0] === TermType.DATUM) return false;
    return term.slice(1).some((part) => containsTerm(part, type));
  }
  if (term !== null && typeof term === "object") {
    return Object.values(term).some((v) => containsTerm(v, type));
  }
  return false;
}

function matches(match: QueryMatcher | undefined, query: QueryInfo): boolean {
  if (match === undefined) return true;
  return typeof match === "number" ? query.termType === match : match(query);
}

function feedMatches(match: FeedMatcher | undefined, db: string, table: string): boolean {
  return match === undefined ||
    (match.db === db && (match.table === undefined || match.table === table));
}

/** The fault switches of one test server. */
export class Faults {
  #docs: Threshold | undefined;
  #bytes: Threshold | undefined;
  #refuse: RefuseMode | undefined;
  #fail: FailRule[] = [];
  #delay: DelayRule[] = [];
  #overflow: OverflowRule[] = [];
  #host: FaultsHost | undefined;
  #restart: PendingRestart | undefined;
  #restarts = 0;
  #lastRestartLost = 0;

  /**
   * Closes the connection whose stream batches bring the number of documents sent (by all
   * connections, counted from now) above `n`: batches are delivered while the total stays within
   * `n`; the batch that would exceed it is not sent and its connection is closed instead.
   */
  closeAfterDocuments(n: number): void {
    this.#docs = { limit: n, seen: 0 };
  }

  /**
   * Closes the connection whose responses bring the number of response bytes (frames, all
   * connections, counted from now) to `n`: the frame crossing the limit is cut after its first
   * bytes, mid-frame, then the connection closes.
   */
  closeAfterBytes(n: number): void {
    this.#bytes = { limit: n, seen: 0 };
  }

  /**
   * Delays every response (including later batches) of queries matching `match` (all queries if
   * omitted) by `ms`; other queries on the same connection are answered meanwhile. Applies to the
   * next `times` matching queries (default: until reset). A cursor already open is held from its
   * next batch on (it counts as one of the `times`), and {@link reset} lifts the delay from the
   * next batch of every open cursor: a server whose latency rises and falls mid-read.
   */
  delayResponses(ms: number, match?: QueryMatcher, times = Infinity): void {
    this.#delay.push({ match, ms, remaining: times });
  }

  /**
   * Answers the next `times` (default 1) queries matching `match` with an error instead of
   * running them.
   */
  failQuery(match: QueryMatcher, error: InjectedError | string, times = 1): void {
    const e = typeof error === "string" ? { message: error } : error;
    this.#fail.push({ match, error: e, remaining: times });
  }

  /**
   * Ends the open changefeeds on the tables `match` selects (all if omitted) as the real server
   * does when their table becomes unavailable: the next read of each, or the CONTINUE it holds
   * at once, is answered with the runtime error
   * `{"t":18,"e":4100000,"r":["Changefeed aborted (unavailable)."],"b":[]}` and the feed is gone
   * (a later CONTINUE: `Token N not in stream cache.`). Acts once, on the feeds open now; the
   * tables stay as they are. Returns how many feeds it ended.
   *
   * @example
   * ```ts
   * import { startTestServer } from "./mod.ts";
   * const server = await startTestServer();
   * // ... a client opens r.db("app").table("events").changes() ...
   * server.faults.abortFeeds({ db: "app", table: "events" });
   * await server.close();
   * ```
   */
  abortFeeds(match?: FeedMatcher): number {
    let ended = 0;
    for (const table of this.#feedTables(match)) ended += table.abortFeeds();
    return ended;
  }

  /**
   * Makes changefeeds overflow as if their reader had fallen more than `changefeed_queue_size`
   * changes behind, whatever its speed: the feed's unread changes are dropped and its next read
   * (or the CONTINUE it holds, at once) gets only the item
   * `{"error":"Changefeed cache over array size limit, skipped K elements."}`, K being the
   * dropped changes (at least 1); changes made after that come next, as on a real server.
   *
   * Hits the next `times` (default 1) feeds on the tables `match` selects (all if omitted): the
   * ones open now first, in the order they were opened, then feeds opened later, each right
   * after its first response (so `ready` and a first batch of initial values come before the
   * report; with more initial values than fit in it, the report comes after all of them).
   * Returns how many open feeds it hit now; the rest stays armed until used or {@link reset}.
   *
   * @example
   * ```ts
   * import { startTestServer } from "./mod.ts";
   * const server = await startTestServer();
   * server.faults.overflowFeeds({ db: "app", table: "events" });
   * // the next feed opened on app.events reports "skipped 1 elements." on its first CONTINUE
   * await server.close();
   * ```
   */
  overflowFeeds(match?: FeedMatcher, times = 1): number {
    let hit = 0;
    for (const table of this.#feedTables(match)) {
      for (const feed of [...table.feeds]) {
        if (hit >= times) return hit;
        feed.overflow();
        hit++;
      }
    }
    if (hit < times) this.#overflow.push({ match, remaining: times - hit });
    return hit;
  }

  /**
   * Refuses new connections until {@link acceptConnections}: `"refuse"` stops listening (the
   * connection is refused), `"close"` accepts and closes at once, `"hang"` accepts and never
   * answers. Connections already open are not touched. Resolves once in effect: the other modes
   * at once, `"refuse"` when the listener is closed.
   *
   * @example
   * ```ts
   * import { startTestServer } from "./mod.ts";
   * const server = await startTestServer();
   * await server.faults.refuseConnections("refuse");
   * await Deno.connect({ port: server.port }).catch((e) => console.log(e.name)); // ConnectionRefused
   * await server.faults.acceptConnections();
   * await server.close();
   * ```
   */
  refuseConnections(mode: RefuseMode = "close"): Promise<void> {
    return this.#setRefuse(mode);
  }

  /** Accepts connections again; resolves once the server listens (at once, usually). */
  acceptConnections(): Promise<void> {
    return this.#setRefuse(undefined);
  }

  /**
   * Models a real RethinkDB 2.4.4 server killed (SIGKILL) and started again:
   *
   * 1. at once, every client connection is closed, queries held back by a delay are dropped, and
   *    every table loses the writes made with soft durability since its last `sync()` (it keeps
   *    what it held at that sync, or at its creation, plus the hard writes; see
   *    {@link lastRestartLost});
   * 2. for `downMs` (default 0) connecting is refused, as with `refuseConnections("refuse")`;
   * 3. then, for `unavailableMs` (default 1000), connections are accepted and metadata queries
   *    work (`dbList`, `tableList`, `rethinkdb` system tables, `config`, `info`, `indexStatus`,
   *    `tableCreate`...), but the tables that existed at the restart are not ready: reading
   *    their documents fails with OP_FAILED `Cannot perform read: primary replica for shard
   *    ["", +inf) not available`, inserts, writes to `get(key)` and `sync()` with `Cannot
   *    perform write: ...` (other updates and deletes read first), and `wait()` waits for the
   *    end of the period, failing with `Timed out while waiting for tables.` if its `timeout`
   *    (seconds) ends first.
   *
   * Everything in step 1 is done when the call returns; the promise resolves once the connections
   * are closed (and the listener too if `downMs` > 0). The later phases run on timers (see
   * {@link untilRestarted}) and {@link reset} cancels them. A restart during another one starts
   * the phases again.
   *
   * @example
   * ```ts
   * import { startTestServer } from "./mod.ts";
   * const server = await startTestServer();
   * await server.faults.restart({ downMs: 100, unavailableMs: 500 });
   * console.log(server.faults.lastRestartLost); // 0: nothing was written
   * await server.faults.untilRestarted();
   * await server.close();
   * ```
   */
  restart(options: RestartOptions = {}): Promise<void> {
    const host = this.#host;
    if (host === undefined) throw new Error("Faults.restart needs a server (see attach)");
    const downMs = options.downMs ?? 0;
    const unavailableMs = options.unavailableMs ?? 1000;
    const previous = this.#restart;
    if (previous !== undefined) { for (const t of previous.timers) clearTimeout(t); }
    this.#restarts++;

    // Tables lose their soft writes and are not ready until the end of the period.
    const { promise: notReady, resolve: ready } = previous === undefined
      ? Promise.withResolvers<void>()
      : { promise: previous.notReady, resolve: previous.ready };
    const tables = host.store.allTables();
    let lost = 0;
    for (const table of tables) {
      lost += table.softWrites.undo(table.docs);
      table.notReady = notReady;
    }
    this.#lastRestartLost = lost;
    const restart: PendingRestart = {
      timers: [],
      tables: [...new Set([...(previous?.tables ?? []), ...tables])],
      notReady,
      ready,
      refuseBefore: previous !== undefined ? previous.refuseBefore : this.#refuse,
    };
    this.#restart = restart;

    const refused = downMs > 0 ? this.#setRefuse("refuse") : Promise.resolve();
    const dropped = host.dropConnections();
    const up = () => {
      this.#setRefuse(restart.refuseBefore);
      restart.timers.push(setTimeout(() => this.#endRestart(restart), unavailableMs));
    };
    if (downMs > 0) restart.timers.push(setTimeout(up, downMs));
    else up();
    return Promise.all([refused, dropped]).then(() => {});
  }

  /**
   * Resolves when the last {@link restart} is over (its tables are ready), or at once if none is
   * under way; also when {@link reset} cancels it.
   *
   * @example
   * ```ts
   * import { startTestServer } from "./mod.ts";
   * const server = await startTestServer();
   * server.faults.restart({ unavailableMs: 200 });
   * await server.faults.untilRestarted(); // 200 ms later, the tables are ready
   * await server.close();
   * ```
   */
  untilRestarted(): Promise<void> {
    return this.#restart?.notReady ?? Promise.resolve();
  }

  /**
   * Number of documents the last {@link restart} rolled back (soft writes since the tables' last
   * `sync()` that changed them); 0 before any restart. Not cleared by {@link reset}.
   */
  get lastRestartLost(): number {
    return this.#lastRestartLost;
  }

  /**
   * Disarms every fault. A restart under way ends at once: connections are accepted and the
   * tables are ready (a pending `wait()` answers).
   */
  reset(): void {
    this.#docs = undefined;
    this.#bytes = undefined;
    this.#fail = [];
    this.#delay = [];
    this.#overflow = [];
    const restart = this.#restart;
    if (restart !== undefined) {
      for (const t of restart.timers) clearTimeout(t);
      this.#endRestart(restart);
    }
    this.#setRefuse(undefined);
  }

  // ---- hooks used by the server ----

  /** @internal Connects the faults to their server; called by `startTestServer`. */
  attach(host: FaultsHost): void {
    this.#host = host;
  }

  /** @internal Number of restarts so far: a query that sees it change died with the server. */
  get restarts(): number {
    return this.#restarts;
  }

  #setRefuse(mode: RefuseMode | undefined): Promise<void> {
    const wasListening = this.#refuse !== "refuse";
    this.#refuse = mode;
    const listening = mode !== "refuse";
    if (listening === wasListening || this.#host === undefined) return Promise.resolve();
    return this.#host.listen(listening);
  }

  #endRestart(restart: PendingRestart): void {
    if (this.#restart !== restart) return;
    this.#restart = undefined;
    for (const t of restart.timers) clearTimeout(t);
    for (const table of restart.tables) {
      if (table.notReady === restart.notReady) table.notReady = undefined;
    }
    restart.ready();
  }

  // ---- hooks used by the server ----

  /** @internal How to treat a new connection (undefined = normally). */
  get refusing(): RefuseMode | undefined {
    return this.#refuse;
  }

  /** @internal The injected error for a starting query, if one matches (consumes it). */
  takeFailure(query: QueryInfo): InjectedError | undefined {
    const rule = this.#fail.find((r) => r.remaining > 0 && matches(r.match, query));
    if (rule === undefined) return undefined;
    rule.remaining--;
    return rule.error;
  }

  /** @internal The delay rule holding a starting query, if any (consumes one use of it). */
  takeDelayRule(query: QueryInfo): DelayRule | undefined {
    const rule = this.#delay.find((r) => r.remaining > 0 && matches(r.match, query));
    if (rule !== undefined) rule.remaining--;
    return rule;
  }

  /**
   * @internal The delay rule holding a later batch of an open cursor: the rule that held it
   * (`held`) while still armed, else the first armed rule matching its query (one use of it).
   */
  batchDelayRule(query: QueryInfo, held: DelayRule | undefined): DelayRule | undefined {
    if (held !== undefined && this.#delay.includes(held)) return held;
    return this.takeDelayRule(query);
  }

  /**
   * @internal Whether a changefeed just opened on `db`.`table` is to overflow (consumes one use
   * of an {@link overflowFeeds} rule).
   */
  takeFeedOverflow(feed: { db: string; table: string }): boolean {
    const rule = this.#overflow.find((r) =>
      r.remaining > 0 && feedMatches(r.match, feed.db, feed.table)
    );
    if (rule === undefined) return false;
    rule.remaining--;
    return true;
  }

  #feedTables(match: FeedMatcher | undefined): Table[] {
    const host = this.#host;
    if (host === undefined) {
      throw new Error("Faults needs a server to reach its feeds (see attach)");
    }
    return host.store.allTables().filter((t) => feedMatches(match, t.db.name, t.name));
  }

  /** @internal Whether a batch of `count` documents may be sent (false = close instead). */
  allowDocuments(count: number): boolean {
    const t = this.#docs;
    if (t === undefined) return true;
    if (t.seen + count > t.limit) {
      this.#docs = undefined;
      return false;
    }
    t.seen += count;
    return true;
  }

  /** @internal How many bytes of a `size`-byte frame to send, and whether to close after. */
  allowBytes(size: number): { send: number; close: boolean } {
    const t = this.#bytes;
    if (t === undefined) return { send: size, close: false };
    if (t.seen + size >= t.limit) {
      this.#bytes = undefined;
      return { send: Math.max(0, t.limit - t.seen), close: true };
    }
    t.seen += size;
    return { send: size, close: false };
  }
}

/** Default `e` of injected runtime errors. */
export const DEFAULT_INJECTED_ERROR_TYPE: number = ErrorType.OP_FAILED;
