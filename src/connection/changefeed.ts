/**
 * A changefeed on one table, read as bytes: each change's document and primary key are located
 * in the frame and copied out unparsed, as the table read copies documents.
 *
 * The feed is opened with `includeStates`, and {@link ChangeFeed.open} resolves only at the
 * server's `{"state":"ready"}`: every write committed after that is in the feed. It is read
 * continuously (a CONTINUE is always outstanding unless the sink is still busy), so changes
 * wait on the server as little as possible. Anything that could have cost a change ends the
 * feed as failed: the overflow item the server sends when its queue was full
 * (`Changefeed cache over array size limit, skipped N elements.`), an error frame (a dropped or
 * unavailable table), a lost connection, or an unexpected end.
 *
 * What the real server sends is recorded in `../shared/rethinkdb-2.4.4/wire/changefeeds.jsonl`:
 * feed batches are `{"t":3,"r":[…],"n":[1,5]}`; a STOP is answered `{"t":2,"r":[],"n":[]}`, and
 * an outstanding CONTINUE gets the same answer.
 *
 * @module
 */

import type { Change } from "../archive/changes.ts";
import {
  decodeAt,
  forEachElement,
  forEachMember,
  JsonBytesError,
  memberValue,
  skipSpace,
  skipValue,
} from "../json/bytes.ts";
import type { Transport } from "./transport.ts";
import { BackupError } from "../errors.ts";

/** Response types a feed sees. */
const PARTIAL = 3;
const SEQUENCE = 2;

/** Receives a batch of changes; the feed asks for the next batch once it settles. */
export type ChangeSink = (changes: Change[]) => void | Promise<void>;

/** How a feed is read. */
export interface FeedOptions {
  /**
   * The table's primary key: each change's key is taken from its document. A promise lets the
   * feed open while the key is still being read; changes wait for it.
   */
  primaryKey: string | Promise<string>;
  /** Where the changes go, in the order the server sent them. */
  sink: ChangeSink;
  /** Names the feed in errors, e.g. `the changes of league.users`. */
  what: string;
}

/**
 * The feed lost changes or ended early: its capture cannot be trusted.
 *
 * @example
 * ```ts
 * import { FeedFailedError } from "./changefeed.ts";
 *
 * const error = new FeedFailedError("the changes of a.b: the server skipped 48 changes");
 * console.log(error.message);
 * ```
 */
export class FeedFailedError extends BackupError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, undefined, options);
    this.name = "FeedFailedError";
  }
}

/**
 * An open changefeed delivering to its sink until {@link stop} or a failure.
 *
 * @example
 * ```ts
 * const feed = await conn.changes("league", "users", {
 *   primaryKey: "id",
 *   what: "the changes of league.users",
 *   sink: (changes) => console.log(changes.length),
 * });
 * // … read the table …
 * await feed.stop(); // throws FeedFailedError if any change may have been lost
 * ```
 */
export class ChangeFeed {
  readonly #transport: Transport;
  readonly #token: number;
  readonly #options: FeedOptions;
  #stopping = false;
  /** The query is over: its last answer came, or it was stopped without waiting. */
  #ended = false;
  #failure: Error | undefined;
  readonly #done: Promise<void>;

  private constructor(transport: Transport, token: number, options: FeedOptions) {
    this.#transport = transport;
    this.#token = token;
    this.#options = options;
    this.#done = this.#read();
    this.#done.catch(() => {});
  }

  /**
   * Takes over the feed started as `token` (a `changes({include_states: true})` query) and
   * resolves once the server says it is ready; changes sent with the ready state go to the sink.
   */
  static async open(
    transport: Transport,
    token: number,
    options: FeedOptions,
  ): Promise<ChangeFeed> {
    let ready = false;
    while (!ready) {
      const body = await transport.next(token);
      const { type, items, error } = parseFrame(body, options.what);
      if (type !== PARTIAL) {
        transport.finish(token);
        throw new FeedFailedError(
          `${options.what}: ${error ?? "the feed ended before it was ready"}`,
        );
      }
      ready = items.some((item) => item.state === "ready");
      let changes: Change[];
      try {
        changes = changesOf(items, await options.primaryKey, options.what);
      } catch (error) {
        await transport.stop(token);
        throw error;
      }
      if (changes.length > 0) await options.sink(changes);
      await transport.continue(token);
    }
    return new ChangeFeed(transport, token, options);
  }

  /** Why the feed failed, once it has. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /**
   * Ends the feed: changes the server sent before it saw the STOP still go to the sink. Throws
   * the feed's failure if it had failed (or fails now).
   */
  async stop(): Promise<void> {
    if (!this.#stopping && !this.#failure) {
      this.#stopping = true;
      try {
        await this.#transport.stopKeepingAnswers(this.#token);
      } catch (error) {
        this.#fail(error);
      }
    }
    await this.#done.catch(() => {});
    if (this.#failure) throw this.#failure;
  }

  /** Gives the feed up without waiting for its end (after a failure elsewhere). */
  async abandon(): Promise<void> {
    this.#stopping = true;
    if (this.#ended) return;
    this.#ended = true;
    await this.#transport.stop(this.#token);
  }

  async #read(): Promise<void> {
    // Whether the server sent the query's last answer: a STOP after it would name a token the
    // server no longer knows.
    let serverEnded = false;
    try {
      while (true) {
        const body = await this.#transport.next(this.#token);
        const { what } = this.#options;
        const { type, items, error } = parseFrame(body, what);
        serverEnded = type !== PARTIAL;
        if (error) throw new FeedFailedError(`${what}: ${error}`);
        if (type === SEQUENCE && this.#stopping) break;
        if (type !== PARTIAL) throw new FeedFailedError(`${what}: the server ended the feed`);
        const changes = changesOf(items, await this.#options.primaryKey, what);
        if (changes.length > 0) await this.#options.sink(changes);
        // After a STOP, the answer to it (or to a CONTINUE it crossed) is all that remains.
        if (!this.#stopping) await this.#transport.continue(this.#token);
      }
      this.#ended = true;
      this.#transport.finish(this.#token);
    } catch (error) {
      this.#fail(error);
      if (this.#ended) return;
      this.#ended = true;
      if (serverEnded) this.#transport.finish(this.#token);
      else await this.#transport.stop(this.#token);
    }
  }

  #fail(error: unknown): void {
    if (this.#failure) return;
    this.#failure = error instanceof FeedFailedError ? error : new FeedFailedError(
      `${this.#options.what}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

/** One item of a feed batch, its values still in the frame. */
interface FeedItem {
  state?: string;
  /** The server's message when its queue overflowed (changes were skipped). */
  overflow?: string;
  /** `new_val` and `old_val` of a change (`null` for JSON null). */
  newVal?: Uint8Array | null;
  oldVal?: Uint8Array | null;
}

/** A feed frame: its type, its items, or the server's error message. */
function parseFrame(
  body: Uint8Array,
  what: string,
): { type: number; items: FeedItem[]; error?: string } {
  try {
    let type = 0;
    let rStart = -1;
    forEachMember(body, skipSpace(body, 0), ({ key, valueStart, valueEnd }) => {
      if (key === "t") type = decodeAt(body, valueStart, valueEnd) as number;
      else if (key === "r") rStart = valueStart;
    });
    if (rStart < 0) throw new JsonBytesError("no `r`");
    if (type > PARTIAL) {
      const r = decodeAt(body, rStart, skipValue(body, rStart)) as unknown[];
      return { type, items: [], error: typeof r[0] === "string" ? r[0] : JSON.stringify(r) };
    }
    const items: FeedItem[] = [];
    forEachElement(body, rStart, (start) => items.push(parseItem(body, start)));
    return { type, items };
  } catch (error) {
    if (error instanceof JsonBytesError) {
      throw new FeedFailedError(`${what}: malformed feed response: ${error.message}`);
    }
    throw error;
  }
}

const NULL_BYTE = 0x6e; // `n` of `null`

function parseItem(body: Uint8Array, start: number): FeedItem {
  const item: FeedItem = {};
  forEachMember(body, start, ({ key, valueStart, valueEnd }) => {
    const value = body.subarray(valueStart, valueEnd);
    if (key === "new_val") item.newVal = value[0] === NULL_BYTE ? null : value;
    else if (key === "old_val") item.oldVal = value[0] === NULL_BYTE ? null : value;
    else if (key === "state") item.state = decodeAt(body, valueStart, valueEnd) as string;
    else if (key === "error") item.overflow = String(decodeAt(body, valueStart, valueEnd));
  });
  return item;
}

/**
 * The changes among `items`, keys taken from their documents and bytes copied out of the frame
 * (whose buffer is reused); throws at an overflow item.
 */
function changesOf(items: FeedItem[], primaryKey: string, what: string): Change[] {
  const changes: Change[] = [];
  for (const item of items) {
    if (item.overflow !== undefined) throw new FeedFailedError(`${what}: ${item.overflow}`);
    if (item.newVal === undefined && item.oldVal === undefined) continue;
    const doc = item.newVal ?? item.oldVal;
    const key = doc && memberValue(doc, 0, primaryKey);
    if (!key) {
      throw new FeedFailedError(`${what}: a change without the primary key "${primaryKey}"`);
    }
    changes.push({ key: key.slice(), newVal: item.newVal ? item.newVal.slice() : null });
  }
  return changes;
}
