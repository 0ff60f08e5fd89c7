/**
 * One client connection: handshake, then frames. Queries run concurrently: each START is handled
 * on its own and answered as soon as it is done, so a slow (e.g. delayed) query never holds up
 * the others on the same connection. Responses are written one frame at a time.
 *
 * A changefeed (`r.table(...).changes()`) lives on its token until STOP, an error, or the end of
 * the connection (see `changefeed.ts`); a CONTINUE on it may be answered much later, without
 * holding up anything else.
 *
 * @module
 */

import { Bound, type Datum, type DatumObject, datumToJson } from "../reql/datum.ts";
import { ReqlClientError, ReqlError, WaitForTables } from "../reql/errors.ts";
import { type Ctx, type Evaluator, toDatum, validateQuery } from "../reql/evaluator.ts";
import { ErrorType, QueryType, ResponseType, TermType } from "../reql/proto.ts";
import { toStream } from "../reql/sequences.ts";
import { checkQueueSize, DEFAULT_CHANGEFEED_QUEUE_SIZE } from "../reql/terms/changes.ts";
import { FeedValue, isStreamLike, RawDoc, SingleSelection, type Value } from "../reql/values.ts";
import type { Store } from "../store/store.ts";
import {
  DEFAULT_INJECTED_ERROR_TYPE,
  type DelayRule,
  type Faults,
  type InjectedError,
  type QueryInfo,
} from "../faults.ts";
import { batchLimits, Cursor } from "./batching.ts";
import { Changefeed, maxBatchMs } from "./changefeed.ts";
import { ByteReader, encodeFrame, readFrame } from "./framing.ts";
import { handshake } from "./handshake.ts";

/** A query as received, kept when the server records queries. */
export interface QueryRecord {
  readonly connectionId: number;
  readonly token: number;
  /** The whole query: `[type, term?, optargs?]`. */
  readonly query: unknown[];
}

/** What connections share with their server. */
export interface ServerContext {
  readonly store: Store;
  readonly evaluator: Evaluator;
  readonly faults: Faults;
  /** Receives every query when the server records them. */
  readonly record?: (query: QueryRecord) => void;
  /** Modelled server latency (ms) of a query, by its root term type; 0 when off. */
  readonly latencyOf?: (termType: number | undefined) => number;
}

/** What later batches of a query need: its query and the delays holding its responses. */
interface OpenQuery {
  /** The query, for the delay rules armed when a later batch is asked for. */
  query: QueryInfo;
  /** The injected delay rule its batches are held by, while that rule is armed. */
  rule: DelayRule | undefined;
  /** Modelled latency of the query, for every batch. */
  latency: number;
}

interface OpenCursor extends OpenQuery {
  cursor: Cursor;
}

interface OpenFeed extends OpenQuery {
  feed: Changefeed;
}

/** The answer to STOP, and to the CONTINUEs a STOP interrupts. */
const STOPPED = `{"t":${ResponseType.SUCCESS_SEQUENCE},"r":[],"n":[]}`;

function notInStreamCache(token: bigint): string {
  return errorResponse(new ReqlClientError(`Token ${token} not in stream cache.`));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** JSON of an error response. */
export function errorResponse(e: ReqlError): string {
  if (e.responseType === ResponseType.RUNTIME_ERROR) {
    return JSON.stringify({ t: e.responseType, e: e.errorType, r: [e.message], b: e.frames });
  }
  return JSON.stringify({ t: e.responseType, r: [e.message], b: e.frames });
}

function injectedResponse(error: InjectedError): string {
  const t = error.responseType ?? ResponseType.RUNTIME_ERROR;
  if (t === ResponseType.RUNTIME_ERROR) {
    return JSON.stringify({
      t,
      e: error.errorType ?? DEFAULT_INJECTED_ERROR_TYPE,
      r: [error.message],
      b: [],
    });
  }
  return JSON.stringify({ t, r: [error.message], b: [] });
}

function dbName(optarg: unknown): string {
  if (typeof optarg === "string") return optarg;
  if (Array.isArray(optarg) && optarg[0] === TermType.DB && Array.isArray(optarg[1])) {
    return String(optarg[1][0]);
  }
  return "test";
}

/** Serves one accepted connection. */
export class Connection {
  readonly #cursors = new Map<bigint, OpenCursor>();
  readonly #feeds = new Map<bigint, OpenFeed>();
  readonly #inflight = new Set<Promise<void>>();
  #writes: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(
    readonly id: number,
    private readonly conn: Deno.Conn,
    private readonly server: ServerContext,
  ) {}

  /** True once closed (by the client, the server or a fault). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Runs the connection until it closes. */
  async serve(): Promise<void> {
    const reader = new ByteReader(this.conn);
    try {
      const user = await handshake(reader, (b) => this.#write(b), this.server.store.users);
      if (user === null) return;
      for (;;) {
        const frame = await readFrame(reader);
        if (frame === null || this.#closed) break;
        const task = this.#dispatch(frame.token, frame.json);
        this.#inflight.add(task);
        task.finally(() => this.#inflight.delete(task));
      }
    } catch (e) {
      if (!this.#closed && !isDisconnect(e)) console.error("test server connection error:", e);
    } finally {
      await this.#writes.catch(() => {});
      this.close();
    }
  }

  /** Closes the connection; open cursors and changefeeds are dropped. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cursors.clear();
    for (const { feed } of this.#feeds.values()) feed.close();
    this.#feeds.clear();
    try {
      this.conn.close();
    } catch {
      // Already closed by the peer.
    }
  }

  async #dispatch(token: bigint, json: string): Promise<void> {
    let query: unknown;
    try {
      query = JSON.parse(json);
    } catch {
      this.#respond(
        token,
        errorResponse(new ReqlClientError("Client is buggy (failed to deserialize query).")),
      );
      return;
    }
    if (!Array.isArray(query)) {
      this.#respond(token, errorResponse(new ReqlClientError("Expected a query to be an array.")));
      return;
    }
    this.server.record?.({ connectionId: this.id, token: Number(token), query });
    switch (query[0]) {
      case QueryType.START:
        return await this.#start(token, query);
      case QueryType.CONTINUE:
        return await this.#continue(token);
      case QueryType.STOP:
        return this.#stop(token);
      case QueryType.NOREPLY_WAIT:
        // The set does not hold this query yet: it is added after this synchronous part.
        await Promise.all([...this.#inflight].map((p) => p.catch(() => {})));
        return this.#respond(token, `{"t":${ResponseType.WAIT_COMPLETE},"r":[]}`);
      case QueryType.SERVER_INFO: {
        const { id, name } = this.server.store.server;
        return this.#respond(
          token,
          JSON.stringify({ t: ResponseType.SERVER_INFO, r: [{ id, name, proxy: false }] }),
        );
      }
      default:
        this.#respond(
          token,
          errorResponse(new ReqlClientError(`Unrecognized QueryType: ${query[0]}.`)),
        );
    }
  }

  async #start(token: bigint, query: unknown[]): Promise<void> {
    const term = query[1];
    const optargs = (query[2] ?? {}) as Record<string, unknown>;
    const info: QueryInfo = {
      termType: Array.isArray(term) ? term[0] as number : undefined,
      term,
      optargs,
      connectionId: this.id,
    };
    const noreply = optargs.noreply === true;
    const faults = this.server.faults;
    const started = performance.now();
    const restarts = faults.restarts;
    const failure = faults.takeFailure(info);
    // Modelled latency and injected delays both hold the answer back; other queries on the
    // same connection go on meanwhile, so concurrent calls overlap as on a real server.
    const rule = faults.takeDelayRule(info);
    const latency = this.server.latencyOf?.(info.termType) ?? 0;
    const delay = (rule?.ms ?? 0) + latency;
    if (delay > 0) await sleep(delay);
    // A query held back across a simulated restart died with the server.
    if (faults.restarts !== restarts) return;
    if (failure !== undefined) {
      if (!noreply) this.#respond(token, injectedResponse(failure));
      return;
    }
    const durability = optargs.durability;
    const ctx: Ctx = {
      store: this.server.store,
      defaultDb: dbName(optargs.db),
      scope: new Map(),
      implicit: [],
      now: { $reql_type$: "TIME", epoch_time: Date.now() / 1000, timezone: "+00:00" },
      durability: durability === "hard" || durability === "soft" ? durability : undefined,
    };
    for (;;) {
      try {
        validateQuery(term, this.server.evaluator.registry);
        const value = this.server.evaluator.eval(term, ctx);
        if (value instanceof FeedValue) {
          const queueSize = value.options.queueSize ??
            (optargs.changefeed_queue_size === undefined
              ? DEFAULT_CHANGEFEED_QUEUE_SIZE
              : checkQueueSize(optargs.changefeed_queue_size as Datum));
          // A noreply feed would never be read: the real server drops it after its first batch.
          if (noreply) return;
          this.#openFeed(token, value, queueSize, optargs, { query: info, rule, latency });
          return;
        }
        if (isStreamLike(value)) {
          const cursor = new Cursor(
            toStream(value, this.server.evaluator, ctx),
            batchLimits(optargs),
          );
          if (noreply) return;
          this.#sendBatch(token, { cursor, query: info, rule, latency });
          return;
        }
        if (noreply) return;
        this.#respond(token, `{"t":${ResponseType.SUCCESS_ATOM},"r":[${atomJson(value)}]}`);
        return;
      } catch (e) {
        // `wait()` on tables that are not ready yet: wait for them, then run the query again.
        if (e instanceof WaitForTables && !this.#closed) {
          const left = e.timeoutMs === undefined
            ? undefined
            : e.timeoutMs - (performance.now() - started);
          if (await readyWithin(e.ready, left)) {
            if (this.#closed || faults.restarts !== restarts) return;
            continue;
          }
        }
        if (!noreply) this.#respond(token, errorResponse(asReqlError(e)));
        return;
      }
    }
  }

  #openFeed(
    token: bigint,
    value: FeedValue,
    queueSize: number,
    optargs: Record<string, unknown>,
    query: OpenQuery,
  ): void {
    // Closed while the query was held back: a feed opened now would never be closed.
    if (this.#closed) return;
    const faults = this.server.faults;
    const feed: Changefeed = new Changefeed(
      value.table,
      value.options,
      queueSize,
      batchLimits(optargs),
      maxBatchMs(optargs),
      {
        send: (json, items) => {
          if (!faults.allowDocuments(items)) {
            this.close();
            return;
          }
          this.#respond(token, json);
        },
        fail: (json, orphans) => {
          if (this.#feeds.get(token)?.feed === feed) this.#feeds.delete(token);
          this.#respond(token, json);
          for (let i = 0; i < orphans; i++) this.#respond(token, notInStreamCache(token));
        },
      },
    );
    this.#feeds.set(token, { ...query, feed });
    feed.open();
    const { db, name } = value.table;
    if (faults.takeFeedOverflow({ db: db.name, table: name })) feed.overflow();
  }

  async #continue(token: bigint): Promise<void> {
    const openFeed = this.#feeds.get(token);
    if (openFeed !== undefined) return await this.#continueFeed(token, openFeed);
    const open = this.#cursors.get(token);
    if (open === undefined) {
      this.#respond(token, notInStreamCache(token));
      return;
    }
    // Delays armed or reset while the cursor is open apply from its next batch on.
    open.rule = this.server.faults.batchDelayRule(open.query, open.rule);
    const delay = (open.rule?.ms ?? 0) + open.latency;
    if (delay > 0) await sleep(delay);
    if (this.#closed) return;
    try {
      this.#sendBatch(token, open);
    } catch (e) {
      this.#cursors.delete(token);
      this.#respond(token, errorResponse(asReqlError(e)));
    }
  }

  async #continueFeed(token: bigint, open: OpenFeed): Promise<void> {
    open.rule = this.server.faults.batchDelayRule(open.query, open.rule);
    const delay = (open.rule?.ms ?? 0) + open.latency;
    if (delay > 0) await sleep(delay);
    if (this.#closed) return;
    if (this.#feeds.get(token) !== open) {
      // Stopped (or failed) while this CONTINUE was held back: as if it had been waiting.
      this.#respond(token, open.feed.stopped ? STOPPED : notInStreamCache(token));
      return;
    }
    open.feed.request();
  }

  #stop(token: bigint): void {
    const open = this.#feeds.get(token);
    if (open !== undefined) {
      this.#feeds.delete(token);
      // The real server interrupts the CONTINUEs still waiting: each gets the STOP answer too.
      const held = open.feed.stop();
      for (let i = 0; i < held; i++) this.#respond(token, STOPPED);
      this.#respond(token, STOPPED);
      return;
    }
    if (!this.#cursors.delete(token)) {
      this.#respond(token, notInStreamCache(token));
      return;
    }
    this.#respond(token, STOPPED);
  }

  #sendBatch(token: bigint, open: OpenCursor): void {
    const { items, done } = open.cursor.nextBatch();
    if (!this.server.faults.allowDocuments(items.length)) {
      this.close();
      return;
    }
    if (done) this.#cursors.delete(token);
    else this.#cursors.set(token, open);
    const t = done ? ResponseType.SUCCESS_SEQUENCE : ResponseType.SUCCESS_PARTIAL;
    this.#respond(token, `{"t":${t},"r":[${items.join(",")}],"n":[]}`);
  }

  #respond(token: bigint, json: string): void {
    if (this.#closed) return;
    const frame = encodeFrame(token, json);
    const { send, close } = this.server.faults.allowBytes(frame.length);
    this.#writes = this.#writes
      .then(() => this.#write(frame.subarray(0, send)))
      .then(() => {
        if (close) this.close();
      })
      .catch(() => this.close());
  }

  async #write(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length && !this.#closed) at += await this.conn.write(bytes.subarray(at));
  }
}

/** Waits for `ready` at most `ms` (forever if undefined); true if it came in time. */
async function readyWithin(ready: Promise<void>, ms: number | undefined): Promise<boolean> {
  if (ms === undefined) {
    await ready;
    return true;
  }
  if (ms <= 0) return false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([ready.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** JSON of an atom result. */
function atomJson(value: Value): string {
  if (value instanceof SingleSelection && value.doc instanceof RawDoc) return value.doc.json;
  if (value instanceof RawDoc) return value.json;
  if (value instanceof Bound) {
    throw new ReqlClientError(
      `Cannot convert \`r.${value === Bound.MIN ? "minval" : "maxval"}\` to JSON.`,
    );
  }
  const d = toDatum(value);
  if (
    d !== null && typeof d === "object" && !Array.isArray(d) &&
    Object.getPrototypeOf(d) !== Object.prototype
  ) {
    throw new ReqlClientError("Query result must be of type DATUM, GROUPED_DATA, or STREAM.");
  }
  return datumToJson(d as DatumObject);
}

function asReqlError(e: unknown): ReqlError {
  if (e instanceof ReqlError) return e;
  console.error("test server internal error:", e);
  const err = new ReqlError(
    `Internal error in the test server: ${(e as Error)?.message ?? String(e)}`,
    ResponseType.RUNTIME_ERROR,
    ErrorType.INTERNAL,
  );
  return err;
}

function isDisconnect(e: unknown): boolean {
  return e instanceof Deno.errors.ConnectionReset || e instanceof Deno.errors.BrokenPipe ||
    e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted ||
    e instanceof Deno.errors.UnexpectedEof;
}
