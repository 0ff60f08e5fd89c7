/**
 * Fault injection for the test server: cut connections after some documents or bytes, delay
 * responses, refuse new connections, fail queries with a chosen error. Every fault is off until
 * armed and {@link Faults.reset} disarms them all.
 *
 * Document and byte counts are global across connections and start when the fault is armed; the
 * connection that crosses the threshold is the one closed, and the fault then disarms itself.
 *
 * @module
 */

import { ErrorType, TermType } from "./reql/proto.ts";

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

/** How refused connections behave. */
export type RefuseMode = "close" | "hang";

interface Threshold {
  limit: number;
  seen: number;
}

interface FailRule {
  match: QueryMatcher;
  error: InjectedError;
  remaining: number;
}

interface DelayRule {
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

/** The fault switches of one test server. */
export class Faults {
  #docs: Threshold | undefined;
  #bytes: Threshold | undefined;
  #refuse: RefuseMode | undefined;
  #fail: FailRule[] = [];
  #delay: DelayRule[] = [];

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
   * next `times` matching queries (default: until reset).
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
   * Refuses new connections until {@link acceptConnections}: `"close"` accepts and closes at
   * once, `"hang"` accepts and never answers.
   */
  refuseConnections(mode: RefuseMode = "close"): void {
    this.#refuse = mode;
  }

  /** Accepts connections again. */
  acceptConnections(): void {
    this.#refuse = undefined;
  }

  /** Disarms every fault. */
  reset(): void {
    this.#docs = undefined;
    this.#bytes = undefined;
    this.#refuse = undefined;
    this.#fail = [];
    this.#delay = [];
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

  /** @internal Delay in ms for a starting query (consumes one use of the rule). */
  takeDelay(query: QueryInfo): number {
    const rule = this.#delay.find((r) => r.remaining > 0 && matches(r.match, query));
    if (rule === undefined) return 0;
    rule.remaining--;
    return rule.ms;
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
