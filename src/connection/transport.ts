/**
 * Queries over one open connection: token allocation, the read loop that dispatches response
 * frames to their queries, and the loss of the connection, which fails every pending query.
 *
 * @module
 */

import type { ByteStream } from "./tls_socket.ts";
import { type EmbeddedText, encodeFrameParts, type Frame, FrameReader } from "./frames.ts";
import { writeAll } from "./handshake.ts";
import type { ConnectionTrace } from "./trace.ts";

/** Query types of the wire protocol. */
export const QueryType = { START: 1, CONTINUE: 2, STOP: 3 } as const;

/** Bytes asked for per read. */
const READ_SIZE = 256 * 1024;

interface Waiter {
  resolve(body: Uint8Array): void;
  reject(error: Error): void;
}

interface Pending {
  frames: Uint8Array[];
  waiter?: Waiter;
}

/**
 * A connection after its handshake. `lost` makes the error every pending and later read fails
 * with.
 *
 * @example
 * ```ts
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 28015 });
 * const transport = new Transport(conn, new Uint8Array(0), (why) => new Error(why));
 * const token = await transport.start([39, []], {});
 * console.log(new TextDecoder().decode(await transport.next(token)));
 * transport.close();
 * ```
 */
export class Transport {
  readonly #conn: ByteStream;
  readonly #reader = new FrameReader();
  readonly #pending = new Map<number, Pending>();
  readonly #lostError: (why: string, cause?: unknown) => Error;
  #nextToken = 1;
  #failure: Error | undefined;
  #writing: Promise<void> = Promise.resolve();
  readonly #done: Promise<void>;
  /** With `--trace`: told of every query frame sent and response frame received. */
  readonly #trace: ConnectionTrace | undefined;

  constructor(
    conn: ByteStream,
    leftover: Uint8Array,
    lostError: (why: string, cause?: unknown) => Error,
    trace?: ConnectionTrace,
  ) {
    this.#conn = conn;
    this.#lostError = lostError;
    this.#trace = trace;
    if (leftover.length > 0) this.#dispatch(leftover);
    this.#done = this.#readLoop();
  }

  /** True until the connection is closed or lost. */
  get open(): boolean {
    return this.#failure === undefined;
  }

  /** Sends a START query; returns its token. `embedded` text goes where its marker is in `term`. */
  async start(
    term: unknown,
    optargs: Record<string, unknown>,
    embedded?: EmbeddedText,
  ): Promise<number> {
    const token = this.#nextToken++;
    this.#pending.set(token, { frames: [] });
    await this.#send(
      token,
      JSON.stringify([QueryType.START, term, optargs]),
      embedded,
      QueryType.START,
      term,
    );
    return token;
  }

  /** Asks for the next batch of a partial sequence. */
  async continue(token: number): Promise<void> {
    await this.#send(token, `[${QueryType.CONTINUE}]`, undefined, QueryType.CONTINUE);
  }

  /** Stops a query; its remaining responses are dropped. */
  async stop(token: number): Promise<void> {
    this.#pending.delete(token);
    if (this.#failure) return;
    await this.#send(token, `[${QueryType.STOP}]`, undefined, QueryType.STOP).catch(() => {});
  }

  /**
   * Stops a query but keeps reading its answers: a changefeed's batch sent before the server saw
   * the STOP still arrives, then the STOP's own answer. Call {@link finish} after the last one.
   */
  async stopKeepingAnswers(token: number): Promise<void> {
    if (this.#failure) throw this.#failure;
    await this.#send(token, `[${QueryType.STOP}]`, undefined, QueryType.STOP);
  }

  /** Forgets a finished query. */
  finish(token: number): void {
    this.#pending.delete(token);
    if (this.#trace) this.#trace.finished(token);
  }

  /** The next response body of a query. */
  next(token: number): Promise<Uint8Array> {
    const pending = this.#pending.get(token);
    if (pending === undefined) {
      return Promise.reject(this.#failure ?? new Error(`no query with token ${token}`));
    }
    const body = pending.frames.shift();
    if (body) return Promise.resolve(body);
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      pending.waiter = { resolve, reject };
    });
  }

  /**
   * Hands back a response body once nothing reads it any more, so that its buffer holds a later
   * frame (a long table read then allocates nothing per batch). Optional.
   */
  release(body: Uint8Array): void {
    this.#reader.release(body);
  }

  /** Closes the connection and fails pending queries; safe to call twice. */
  async close(): Promise<void> {
    this.#fail(this.#lostError("the connection was closed"));
    await this.#done;
  }

  async #send(
    token: number,
    json: string,
    embedded: EmbeddedText | undefined,
    type: number,
    term?: unknown,
  ): Promise<void> {
    if (this.#failure) throw this.#failure;
    const frame = encodeFrameParts(token, json, embedded);
    // Recorded before the write: the answer may arrive before the write's promise settles.
    if (this.#trace) this.#trace.sent(token, type, term, frame);
    // Writes are queued so that frames of concurrent queries never interleave.
    const write = this.#writing.then(async () => {
      for (const part of frame) await writeAll(this.#conn, part);
    });
    this.#writing = write.catch(() => {});
    try {
      await write;
    } catch (error) {
      const lost = this.#lostError(messageOf(error), error);
      this.#fail(lost);
      throw this.#failure;
    }
  }

  async #readLoop(): Promise<void> {
    try {
      // One buffer for every read: the frame reader copies bodies out of it.
      const buffer = new Uint8Array(READ_SIZE);
      while (this.#failure === undefined) {
        // The rest of a large frame is read straight into its body's buffer.
        const target = this.#reader.target;
        const n = await this.#conn.read(target ?? buffer);
        if (n === null) {
          const midFrame = this.#reader.buffered > 0 ? " in the middle of a response" : "";
          this.#fail(this.#lostError(`the server closed the connection${midFrame}`));
          break;
        }
        if (target) this.#deliver(this.#reader.filled(n));
        else this.#dispatch(buffer.subarray(0, n));
      }
    } catch (error) {
      this.#fail(this.#lostError(messageOf(error), error));
    }
  }

  #dispatch(chunk: Uint8Array): void {
    this.#deliver(this.#reader.push(chunk));
  }

  #deliver(frames: Frame[]): void {
    for (const frame of frames) {
      // Before the stopped-query check: a STOP's own answer is traced too.
      if (this.#trace) this.#trace.answered(frame.token, frame.body);
      const pending = this.#pending.get(frame.token);
      if (pending === undefined) continue; // a stopped query
      if (pending.waiter) {
        const waiter = pending.waiter;
        pending.waiter = undefined;
        waiter.resolve(frame.body);
      } else {
        pending.frames.push(frame.body);
      }
    }
  }

  #fail(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    if (this.#trace) this.#trace.closed(error);
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    for (const pending of this.#pending.values()) {
      const waiter = pending.waiter;
      pending.waiter = undefined;
      waiter?.reject(error);
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message.split("\n")[0] : String(error);
}
