/**
 * A worker's connection to the server that rides out what a cluster does in its normal life: a
 * dropped connection, a restart, a failover. Two kinds of failure are transient:
 *
 * - **a lost connection** (reset, closed, timed out; while reconnecting, refused too): a new
 *   connection is opened after a pause that doubles each time;
 * - **an unavailable table** (the server's `Cannot perform read: primary replica … not
 *   available` after a restart, `… lost contact with primary replica`, `The server(s) hosting
 *   table … are currently unreachable`): after the pause, the link waits for the table
 *   (`table.wait()`), then the work goes on from where it stood.
 *
 * Both share one budget of time, counted from the first failure of a run of failures and reset
 * by any success: `retryForMs`. Retries do not multiply: when many operations are waiting on one
 * connection and it breaks, that is one failure, one warning and one reconnect, and the other
 * operations wait for it.
 *
 * @module
 */

import {
  connect,
  type Connection,
  ConnectionLostError,
  type ConnectOptions,
  isConnectionLost,
  ServerError,
} from "./driver.ts";
import { BackupError, firstLine } from "../errors.ts";
import { Tracer } from "./trace.ts";

/** The longest pause between two attempts. */
export const MAX_RETRY_DELAY_MS = 4000;

/** A table, when the work concerns one: an unavailable table is waited for. */
export interface LinkTable {
  db: string;
  table: string;
}

/** What {@link LinkOptions.onRetry} is told of each failure that starts a pause. */
export interface RetryEvent {
  /** What was being done, e.g. `reading league.users`. */
  task: string;
  /** The failure. */
  error: unknown;
  /** What the link waits for before trying again, e.g. `reconnecting in 0.5s`. */
  waitingFor: string;
  /** Time spent in this run of failures so far, and the budget. */
  elapsedMs: number;
  budgetMs: number;
}

/** How a {@link Link} connects and retries. */
export interface LinkOptions {
  /** Opens a connection; the driver's `connect` in production, a stub in tests. */
  connect: (options: ConnectOptions) => Promise<Connection>;
  /** Where to connect. */
  address: ConnectOptions;
  /** How long a run of failures may last before the link gives up (ms). */
  retryForMs: number;
  /** The first pause (ms); doubled for each further one, up to {@link MAX_RETRY_DELAY_MS}. */
  retryDelayMs: number;
  /** Aborting closes the connection, so a pending read fails at once. */
  signal: AbortSignal;
  /** Told about each failure that starts a pause, e.g. to print a warning. */
  onRetry?: (event: RetryEvent) => void;
  /**
   * The server has been reached before in this run (default: only once this link has been
   * connected): a refused or failed connection is then the server restarting, retried within
   * the budget, not a wrong address to report at once.
   */
  reachable?: boolean;
}

/**
 * True when `error` is the server saying a table cannot serve right now (a restart, a
 * failover, a lost replica), which waiting cures. Every availability failure of RethinkDB 2.4
 * reads `Cannot perform read: …` or `Cannot perform write: …` (`real_table.cc`), or comes from
 * an administrative operation on a table whose servers are unreachable (`admin_op_exc.hpp`).
 *
 * @example
 * ```ts
 * import { isUnavailable } from "./link.ts";
 * import { ServerError } from "./driver.ts";
 *
 * isUnavailable(new ServerError(
 *   'Cannot perform read: primary replica for shard ["", +inf) not available', 18, 4100000,
 * )); // true
 * isUnavailable(new ServerError("Table `a.b` does not exist.", 18, 4100000)); // false
 * ```
 */
export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof ServerError) || error.responseType !== 18) return false;
  return /^Cannot perform (read|write): /.test(error.message) ||
    /^The server\(s\) hosting table `[^`]*` are currently unreachable\./.test(error.message) ||
    /^We lost contact with the server\(s\) hosting table /.test(error.message);
}

/**
 * The warning line of a {@link RetryEvent}.
 *
 * @example
 * ```ts
 * import { describeRetry } from "./link.ts";
 *
 * describeRetry({
 *   task: "reading league.users", error: new Error("connection reset"),
 *   waitingFor: "reconnecting in 0.5s", elapsedMs: 0, budgetMs: 60_000,
 * }); // "reading league.users: connection reset; reconnecting in 0.5s (0.0s of --retry-for 60s spent)"
 * ```
 */
export function describeRetry(event: RetryEvent): string {
  return `${event.task}: ${firstLine(event.error)}; ${event.waitingFor} (${
    seconds(event.elapsedMs)
  } of --retry-for ${seconds(event.budgetMs)} spent)`;
}

function seconds(ms: number): string {
  return ms >= 10_000 ? `${Math.round(ms / 1000)}s` : `${(ms / 1000).toFixed(1)}s`;
}

/**
 * A connection opened on demand and replaced after a loss.
 *
 * @example
 * ```ts
 * const link = new Link({ connect, address, retryForMs: 60_000, retryDelayMs: 500, signal });
 * const info = await link.run((conn) => conn.tableInfo("league", "users"), "reading", {
 *   db: "league",
 *   table: "users",
 * });
 * await link.close();
 * ```
 */
export class Link {
  readonly #options: LinkOptions;
  #conn: Connection | undefined;
  #opening: Promise<Connection> | undefined;
  /** Connections already given up: work failing on one of them joins the recovery under way. */
  readonly #lost = new WeakSet<Connection>();
  /** When the current run of failures began, if one is under way. */
  #failingSince: number | undefined;
  #attempt = 0;
  /** The pause every failing operation waits out, while one is under way. */
  #pause: Promise<void> | undefined;
  readonly #onAbort = () => void this.close();
  #reachable: boolean;

  constructor(options: LinkOptions, conn?: Connection) {
    this.#options = options;
    this.#conn = conn;
    this.#reachable = options.reachable === true || conn !== undefined;
    options.signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** The open connection, connecting first if needed (one connection, however many ask). */
  async connection(): Promise<Connection> {
    this.#options.signal.throwIfAborted();
    if (this.#conn) return this.#conn;
    this.#opening ??= this.#open().finally(() => (this.#opening = undefined));
    return await this.#opening;
  }

  async #open(): Promise<Connection> {
    let conn: Connection;
    try {
      conn = await this.#options.connect(this.#options.address);
    } catch (error) {
      // Once the server has been reached, a refused or timed-out connection is the server
      // restarting: one more lost connection, retried within the same budget. (Between two
      // failures, another operation's success may have ended the run of failures.)
      const reached = this.#reachable || this.#failingSince !== undefined;
      if (!reached || !(error instanceof BackupError)) throw error;
      throw new ConnectionLostError(error.message, { cause: error });
    }
    if (this.#options.signal.aborted) {
      await conn.close();
      this.#options.signal.throwIfAborted();
    }
    this.#conn = conn;
    this.#reachable = true;
    return conn;
  }

  /**
   * Runs `work` on the connection; after a lost connection or an unavailable `table`, recovers
   * (see {@link recover}) and runs it again. `task` names the work in warnings and errors.
   */
  async run<T>(
    work: (conn: Connection) => Promise<T>,
    task = "a query",
    table?: LinkTable,
  ): Promise<T> {
    while (true) {
      let conn: Connection | undefined;
      try {
        conn = await this.connection();
        const result = await work(conn);
        this.succeeded();
        return result;
      } catch (error) {
        await this.recover(error, task, { conn, table });
      }
    }
  }

  /** Marks progress: the next failure starts a new run, with a full budget. */
  succeeded(): void {
    this.#failingSince = undefined;
    this.#attempt = 0;
  }

  /**
   * Handles a failure of work on this link: rethrows it (or the abort reason) unless it is
   * transient and the budget is not spent; otherwise waits (a pause, then a new connection or
   * the table's readiness) and returns, and the caller tries again. `conn` is the connection the
   * work failed on; `table` the table it concerned.
   */
  async recover(
    error: unknown,
    task = "a query",
    where: { conn?: Connection; table?: LinkTable } = {},
  ): Promise<void> {
    const { signal } = this.#options;
    signal.throwIfAborted();
    const lost = isConnectionLost(error);
    if (!lost && !isUnavailable(error)) throw error;
    const { conn, table } = where;
    if (lost && conn !== undefined) {
      // Another operation already answered this connection's loss: wait with it.
      if (this.#lost.has(conn)) return await this.#pause;
      this.#lost.add(conn);
      if (this.#conn === conn) this.#conn = undefined;
      // Not awaited: the pause must be in place before anyone else fails on this connection.
      conn.close().catch(() => {});
    } else if (this.#pause !== undefined) {
      // Already pausing (a reconnect refused, a table unavailable): one failure, one warning.
      return await this.#pause;
    }
    const now = Date.now();
    this.#failingSince ??= now;
    const elapsed = now - this.#failingSince;
    const budget = this.#options.retryForMs;
    if (elapsed >= budget) {
      throw new BackupError(
        `${task}: gave up after ${seconds(elapsed)} of retrying (--retry-for ${seconds(budget)}): ${
          firstLine(error)
        }; check the server and the network, then run the command again`,
        undefined,
        { cause: error },
      );
    }
    const delay = Math.min(
      this.#options.retryDelayMs * 2 ** this.#attempt++,
      MAX_RETRY_DELAY_MS,
      budget - elapsed,
    );
    const waitingFor = lost
      ? `reconnecting in ${(delay / 1000).toFixed(1)}s`
      : table
      ? `waiting for table ${table.db}.${table.table} to be ready`
      : `trying again in ${(delay / 1000).toFixed(1)}s`;
    this.#options.onRetry?.({ task, error, waitingFor, elapsedMs: elapsed, budgetMs: budget });
    const deadline = this.#failingSince + budget;
    const pause = (async () => {
      await sleep(delay, signal);
      if (!lost && table) await this.#waitFor(table, deadline - Date.now());
    })();
    this.#pause = pause;
    try {
      await pause;
    } finally {
      if (this.#pause === pause) this.#pause = undefined;
    }
  }

  /** Waits until `table` is ready, for at most `ms`; a failure here is left to the next try. */
  async #waitFor(table: LinkTable, ms: number): Promise<void> {
    if (ms <= 0) return;
    let conn: Connection | undefined;
    // `--trace`: how long the wait took and how it ended, beside the WAIT query's own line.
    const tracer = this.#options.address.tracer;
    const started = tracer && performance.now();
    const waited = (ready: boolean, error?: unknown) =>
      tracer?.event("waited", {
        table: `${table.db}.${table.table}`,
        ms: Math.round(performance.now() - started!),
        ready,
        error: error === undefined ? undefined : Tracer.describe(error),
      });
    try {
      conn = await this.connection();
      await conn.waitForTable(table.db, table.table, Math.max(1, Math.ceil(ms / 1000)));
      waited(true);
    } catch (error) {
      waited(false, error);
      this.#options.signal.throwIfAborted();
      if (isConnectionLost(error) && conn !== undefined && this.#conn === conn) {
        // The next try reconnects, and counts the loss.
        this.#lost.add(conn);
        this.#conn = undefined;
        conn.close().catch(() => {});
      }
    }
  }

  /** Closes the connection (a later call reconnects). */
  async close(): Promise<void> {
    const conn = this.#conn;
    this.#conn = undefined;
    await conn?.close();
  }

  /** Closes the connection and stops listening to the abort signal. */
  async dispose(): Promise<void> {
    this.#options.signal.removeEventListener("abort", this.#onAbort);
    await this.close();
  }
}

/** What {@link commandLink} needs: the retry policy of a command, and where warnings go. */
export interface CommandLinkOptions {
  /** Where to connect (its tracer, if any, gets a line per retry). */
  address: ConnectOptions;
  retryForMs: number;
  retryDelayMs: number;
  signal: AbortSignal;
  /** Prints a warning line. */
  warn: (line: string) => void;
  /** Told of each failure that starts a pause, after the warning. */
  onFailure?: () => void;
}

/**
 * A {@link Link} as `dump` and `restore` use them: the driver's `connect`, and each retry a
 * warning ({@link describeRetry}) and a trace line.
 *
 * @example
 * ```ts
 * import { commandLink } from "./link.ts";
 *
 * const link = commandLink({
 *   address: { host: "localhost", port: 28015 },
 *   retryForMs: 60_000,
 *   retryDelayMs: 500,
 *   signal: new AbortController().signal,
 *   warn: (line) => console.error(line),
 * });
 * await link.dispose();
 * ```
 */
export function commandLink(options: CommandLinkOptions, conn?: Connection): Link {
  return new Link({
    connect,
    address: options.address,
    retryForMs: options.retryForMs,
    retryDelayMs: options.retryDelayMs,
    signal: options.signal,
    // A command connects once before it makes its links: the address is known to work.
    reachable: true,
    onRetry: (event) => {
      options.warn(describeRetry(event));
      options.address.tracer?.retry(event);
      options.onFailure?.();
    },
  }, conn);
}

/** Waits `ms`, or rejects with the abort reason as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
