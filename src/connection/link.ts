/**
 * A worker's connection to the server that survives drops: each failure that means "the
 * connection was lost" is answered by a new connection after an exponentially growing delay,
 * a bounded number of times in a row.
 *
 * @module
 */

import {
  type Connection,
  ConnectionLostError,
  type ConnectOptions,
  isConnectionLost,
} from "./driver.ts";
import { BackupError, firstLine } from "../errors.ts";

/** How a {@link Link} connects and retries. */
export interface LinkOptions {
  /** Opens a connection; the driver's `connect` in production, a stub in tests. */
  connect: (options: ConnectOptions) => Promise<Connection>;
  /** Where to connect. */
  address: ConnectOptions;
  /** Reconnect attempts in a row before giving up. */
  retries: number;
  /** Delay before the first reconnect (ms); doubled for each further one. */
  retryDelayMs: number;
  /** Aborting closes the connection, so a pending read fails at once. */
  signal: AbortSignal;
  /** Told about each reconnect, e.g. to print a warning; `task` is what was being done. */
  onRetry?: (attempt: number, delayMs: number, error: unknown, task: string) => void;
}

/**
 * A connection opened on demand and replaced after a loss.
 *
 * @example
 * ```ts
 * const link = new Link({ connect, address, retries: 5, retryDelayMs: 500, signal });
 * const info = await link.run((conn) => conn.tableInfo("league", "users"));
 * await link.close();
 * ```
 */
export class Link {
  readonly #options: LinkOptions;
  #conn: Connection | undefined;
  #failures = 0;
  readonly #onAbort = () => void this.close();

  constructor(options: LinkOptions, conn?: Connection) {
    this.#options = options;
    this.#conn = conn;
    options.signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** The open connection, connecting first if needed. */
  async connection(): Promise<Connection> {
    this.#options.signal.throwIfAborted();
    if (!this.#conn) {
      try {
        this.#conn = await this.#options.connect(this.#options.address);
      } catch (error) {
        // While reconnecting, a refused or timed-out connection (the server restarting) is one
        // more lost connection, retried within the same budget.
        if (this.#failures === 0 || !(error instanceof BackupError)) throw error;
        throw new ConnectionLostError(error.message, { cause: error });
      }
    }
    if (this.#options.signal.aborted) await this.close();
    this.#options.signal.throwIfAborted();
    return this.#conn!;
  }

  /**
   * Runs `work` on the connection; when it fails with a lost connection, reconnects (after the
   * backoff delay) and runs it again.
   */
  async run<T>(work: (conn: Connection) => Promise<T>, task = "a query"): Promise<T> {
    while (true) {
      try {
        const result = await work(await this.connection());
        this.succeeded();
        return result;
      } catch (error) {
        await this.recover(error, task);
      }
    }
  }

  /** Marks progress: the next loss starts the backoff again from the first delay. */
  succeeded(): void {
    this.#failures = 0;
  }

  /**
   * Handles a failure of work on this link: rethrows it (or the abort reason) unless it is a
   * lost connection with retries left, in which case it drops the connection and waits out the
   * backoff delay; the caller then tries again. `task` names the work in warnings.
   */
  async recover(error: unknown, task = "a query"): Promise<void> {
    const { signal } = this.#options;
    signal.throwIfAborted();
    if (!isConnectionLost(error)) throw error;
    await this.close();
    this.#failures++;
    if (this.#failures > this.#options.retries) {
      throw new BackupError(
        `${task}: gave up after ${this.#options.retries} reconnect attempts: ${
          firstLine(error)
        }; check the server and the network, then run the command again`,
        undefined,
        { cause: error },
      );
    }
    const delay = this.#options.retryDelayMs * 2 ** (this.#failures - 1);
    this.#options.onRetry?.(this.#failures, delay, error, task);
    await sleep(delay, signal);
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
