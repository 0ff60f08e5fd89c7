/**
 * `--trace FILE`: one JSON line per query round trip, per connection opened or closed, and per
 * retry and wait of a {@link import("./link.ts").Link}, for finding out afterwards where a slow
 * or failed run spent its time.
 *
 * What a line may hold is fixed here: times, connection numbers, tokens, query and term type
 * names, `db.table` names, byte counts, response types, and the first line of an error (quoted
 * strings in it replaced by `"…"`, since a server message may quote a value). Never a term's
 * datum arguments, a response body, a password or a handshake message: the trace is safe to
 * attach to a bug report.
 *
 * Cheap enough to leave on: a line is a string appended to an in-memory buffer; a single
 * asynchronous writer empties the buffer into the file in the background (when it holds 64 KiB,
 * or 200 ms after its first line). Nothing on the query path waits for the disk. When the disk
 * falls so far behind that the buffer holds {@link MAX_BUFFERED_CHARS}, lines are dropped and
 * counted, and a `dropped` line says how many once writing catches up.
 *
 * @example
 * ```ts
 * const tracer = await Tracer.open("trace.jsonl");
 * const conn = await connect({ host: "localhost", port: 28015, tracer });
 * await conn.listDatabases();
 * await conn.close();
 * await tracer.close();
 * ```
 *
 * @module
 */

import { BackupError, firstLine } from "../errors.ts";
import type { RetryEvent } from "./link.ts";
import { queryTarget, termName } from "./reql.ts";

/** Buffered characters that start a write at once. */
const FLUSH_CHARS = 64 * 1024;

/** How long a line may wait in the buffer before it is written (ms). */
const FLUSH_DELAY_MS = 200;

/** Buffered characters beyond which lines are dropped rather than held (a stalled disk). */
export const MAX_BUFFERED_CHARS = 4 * 1024 * 1024;

/** The longest error text a line holds. */
const MAX_ERROR_CHARS = 300;

/** Wire query types by number (`ql2.proto`). */
const QUERY_TYPES = ["?", "START", "CONTINUE", "STOP", "NOREPLY_WAIT", "SERVER_INFO"];

/** Wire response types by number, as a trace line's `t`. */
const RESPONSE_TYPES: Record<number, string> = {
  1: "atom",
  2: "sequence",
  3: "partial",
  4: "wait_complete",
  5: "server_info",
  16: "client_error",
  17: "compile_error",
  18: "runtime_error",
};

/** One query round trip, as {@link Tracer.query} writes it. */
export interface QueryLine {
  /** When the query was handed to the connection (epoch ms). */
  at: number;
  /** When its answer arrived (epoch ms); absent when the connection ended first. */
  answered?: number;
  /** Round-trip time in ms (monotonic clock). */
  ms?: number;
  /** The connection's number in this run (1 for the first opened). */
  conn: number;
  /** The query's token on its connection. */
  token: number;
  /** Wire query type: 1 START, 2 CONTINUE, 3 STOP. */
  type: number;
  /** The root term of the query (of its START, for a CONTINUE or STOP), e.g. `ORDER_BY`. */
  term: string;
  /** The database the query concerns, if any. */
  db?: string;
  /** The table the query concerns, if any (in `db`). */
  table?: string;
  /** Bytes of the query frame (header included). */
  sentBytes: number;
  /** Bytes of the response frame (header included); absent without an answer. */
  receivedBytes?: number;
  /** Wire response type; absent without an answer. */
  responseType?: number;
  /** An error response's message (it is cut to its first line and redacted here). */
  error?: string;
}

/** Values of an event line's fields. */
export type EventFields = Record<string, string | number | boolean | undefined>;

/**
 * Writes trace lines to a file through a bounded buffer (see the module documentation).
 *
 * @example
 * ```ts
 * const tracer = await Tracer.open("run.trace.jsonl");
 * tracer.event("note", { text: "hello" });
 * await tracer.close();
 * ```
 */
export class Tracer {
  readonly #write: (bytes: Uint8Array) => Promise<void>;
  readonly #release: () => void;
  /** What the file is called, for warnings. */
  readonly path: string;
  #lines: string[] = [];
  #chars = 0;
  #dropped = 0;
  #droppedTotal = 0;
  #writing: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #connections = 0;
  #closed = false;
  #failure: unknown;

  /**
   * A tracer writing with `write` (which must write all of its bytes); `release` runs once the
   * tracer is closed. {@link Tracer.open} is the usual way.
   */
  constructor(
    path: string,
    write: (bytes: Uint8Array) => Promise<void>,
    release: () => void = () => {},
  ) {
    this.path = path;
    this.#write = write;
    this.#release = release;
  }

  /**
   * Creates (or empties) `path` and returns a tracer writing to it; a file that cannot be
   * created is a one-line {@link BackupError} naming it and the fix.
   */
  static async open(path: string): Promise<Tracer> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { write: true, create: true, truncate: true });
    } catch (error) {
      let problem = firstLine(error);
      if (error instanceof Deno.errors.NotFound) problem = "its directory does not exist";
      else if (error instanceof Deno.errors.PermissionDenied) problem = "permission denied";
      else if (error instanceof Deno.errors.IsADirectory) problem = "it is a directory";
      throw new BackupError(
        `--trace ${path}: cannot create the file: ${problem}; give a file in a writable directory`,
        undefined,
        { cause: error },
      );
    }
    return new Tracer(path, async (bytes) => {
      for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
    }, () => file.close());
  }

  /**
   * Numbers a new connection to `server` (`host:port`), writes its `open` line, and returns
   * what its transport reports queries to.
   */
  openConnection(server: string): ConnectionTrace {
    const conn = ++this.#connections;
    this.event("open", { conn, server });
    return new ConnectionTrace(this, conn, server);
  }

  /** Writes a `connect_failed` line: opening a connection to `server` failed with `error`. */
  connectFailed(server: string, error: unknown): void {
    this.event("connect_failed", { server, error: Tracer.describe(error) });
  }

  /** Writes a query line. */
  query(q: QueryLine): void {
    if (this.#closed) return;
    let line = `{"at":"${iso(q.at)}","kind":"query","conn":${q.conn},"token":${q.token},"query":"${
      QUERY_TYPES[q.type] ?? q.type
    }","term":"${q.term}"`;
    // `db.table`, or the database alone (DB_CREATE, DB_DROP).
    if (q.table !== undefined) line += `,"table":${JSON.stringify(`${q.db}.${q.table}`)}`;
    else if (q.db !== undefined) line += `,"db":${JSON.stringify(q.db)}`;
    if (q.answered !== undefined) line += `,"answered":"${iso(q.answered)}"`;
    if (q.ms !== undefined) line += `,"ms":${Math.round(q.ms * 100) / 100}`;
    line += `,"sentBytes":${q.sentBytes}`;
    if (q.receivedBytes !== undefined) line += `,"receivedBytes":${q.receivedBytes}`;
    line += `,"t":"${
      q.responseType === undefined ? "none" : RESPONSE_TYPES[q.responseType] ?? q.responseType
    }"`;
    if (q.error !== undefined) line += `,"error":${JSON.stringify(redact(q.error))}`;
    this.#append(line + "}\n");
  }

  /** Writes an event line: `{"at":…,"kind":kind,…fields}`. String fields are written as given. */
  event(kind: string, fields: EventFields = {}): void {
    if (this.#closed) return;
    this.#append(JSON.stringify({ at: iso(Date.now()), kind, ...fields }) + "\n");
  }

  /** Writes a `retry` line: what failed, and what the link waits for before trying again. */
  retry(event: RetryEvent): void {
    this.event("retry", {
      task: event.task,
      error: redact(firstLine(event.error)),
      waitingFor: event.waitingFor,
      elapsedMs: event.elapsedMs,
      budgetMs: event.budgetMs,
    });
  }

  /** Writes `error`'s first line, redacted, as an event field value. */
  static describe(error: unknown): string {
    return redact(firstLine(error));
  }

  /**
   * What went wrong with the trace itself, for a warning: a write that failed, or lines
   * dropped because the disk fell behind; undefined when the file is complete.
   */
  get problem(): string | undefined {
    if (this.#failure !== undefined) {
      return `--trace ${this.path}: writing failed (${
        firstLine(this.#failure)
      }); the trace is incomplete`;
    }
    if (this.#droppedTotal > 0) {
      return `--trace ${this.path}: ${this.#droppedTotal} lines dropped (the disk fell behind)`;
    }
    return undefined;
  }

  /** Writes everything buffered so far. */
  async flush(): Promise<void> {
    while (this.#writing !== undefined || this.#lines.length > 0 || this.#dropped > 0) {
      this.#kick();
      await this.#writing;
    }
  }

  /** Writes everything buffered and closes the file; later lines are ignored. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    clearTimeout(this.#timer);
    try {
      this.#release();
    } catch {
      // Already closed.
    }
  }

  #append(line: string): void {
    if (this.#failure !== undefined) return;
    if (this.#chars + line.length > MAX_BUFFERED_CHARS) {
      this.#dropped++;
      this.#droppedTotal++;
      return;
    }
    this.#lines.push(line);
    this.#chars += line.length;
    if (this.#chars >= FLUSH_CHARS) this.#kick();
    else if (this.#timer === undefined) {
      const timer = setTimeout(() => {
        this.#timer = undefined;
        this.#kick();
      }, FLUSH_DELAY_MS);
      // A pending flush must not keep the process alive: close() writes what is left.
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  /** Starts the writer unless it runs. */
  #kick(): void {
    this.#writing ??= this.#drain().finally(() => (this.#writing = undefined));
  }

  async #drain(): Promise<void> {
    const encoder = new TextEncoder();
    while (this.#lines.length > 0 || this.#dropped > 0) {
      let text = this.#lines.join("");
      this.#lines = [];
      this.#chars = 0;
      if (this.#dropped > 0) {
        text += JSON.stringify({ at: iso(Date.now()), kind: "dropped", lines: this.#dropped }) +
          "\n";
        this.#dropped = 0;
      }
      try {
        await this.#write(encoder.encode(text));
      } catch (error) {
        // The run goes on without its trace; the command warns at the end (see `problem`).
        this.#failure = error;
        this.#lines = [];
        this.#chars = 0;
        return;
      }
    }
  }
}

/** A query sent and not answered yet. */
interface Outstanding {
  type: number;
  at: number;
  started: number;
  bytes: number;
}

/** What a token's START was about, kept for its CONTINUEs and STOP. */
interface TokenState {
  term: string;
  db: string | undefined;
  table: string | undefined;
  /** Answers come in the order the queries were sent. */
  outstanding: Outstanding[];
}

/**
 * One connection's queries, as its transport reports them: pairs each response frame with the
 * query it answers (per token, in order) and writes the line.
 *
 * @example
 * ```ts
 * const trace = tracer.openConnection("db1:28015");
 * trace.sent(1, 1, [39, []], [frame]);
 * trace.answered(1, body);
 * trace.closed(new Error("the connection was closed"));
 * ```
 */
export class ConnectionTrace {
  readonly #tracer: Tracer;
  readonly #tokens = new Map<number, TokenState>();
  /** The connection's number in this run. */
  readonly conn: number;
  /** `host:port`. */
  readonly server: string;
  #closed = false;

  constructor(tracer: Tracer, conn: number, server: string) {
    this.#tracer = tracer;
    this.conn = conn;
    this.server = server;
  }

  /** A query frame of `type` was handed to the connection; `term` is a START's query term. */
  sent(token: number, type: number, term: unknown, frame: Uint8Array[]): void {
    let state = this.#tokens.get(token);
    if (state === undefined) {
      const target = type === 1 ? queryTarget(term) : undefined;
      const root = Array.isArray(term) && typeof term[0] === "number" ? termName(term[0]) : "?";
      state = { term: root, db: target?.db, table: target?.table, outstanding: [] };
      this.#tokens.set(token, state);
    }
    let bytes = 0;
    for (const part of frame) bytes += part.length;
    state.outstanding.push({ type, at: Date.now(), started: performance.now(), bytes });
  }

  /** A response frame for `token` arrived; only its first bytes are read (errors: parsed). */
  answered(token: number, body: Uint8Array): void {
    const state = this.#tokens.get(token);
    const query = state?.outstanding.shift();
    if (state === undefined || query === undefined) return;
    const responseType = responseTypeOf(body);
    const line: QueryLine = {
      at: query.at,
      answered: Date.now(),
      ms: performance.now() - query.started,
      conn: this.conn,
      token,
      type: query.type,
      term: state.term,
      db: state.db,
      table: state.table,
      sentBytes: query.bytes,
      receivedBytes: body.length + 12,
      responseType,
    };
    if (responseType !== undefined && responseType >= 16) line.error = errorMessageOf(body);
    this.#tracer.query(line);
    // The answer to a STOP is a query's last; otherwise its end is the transport's `finish`
    // (after an error, a read still sends a STOP, which keeps the START's term and table).
    if (query.type === 3 && state.outstanding.length === 0) this.#tokens.delete(token);
  }

  /** The transport is done with `token` (answered in full): its START is forgotten. */
  finished(token: number): void {
    const state = this.#tokens.get(token);
    if (state !== undefined && state.outstanding.length === 0) this.#tokens.delete(token);
  }

  /**
   * The connection ended (`reason`): queries still waiting get a line without an answer, then
   * the `close` line. Only the first call counts.
   */
  closed(reason: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [token, state] of this.#tokens) {
      for (const query of state.outstanding) {
        this.#tracer.query({
          at: query.at,
          conn: this.conn,
          token,
          type: query.type,
          term: state.term,
          db: state.db,
          table: state.table,
          sentBytes: query.bytes,
        });
      }
    }
    this.#tokens.clear();
    // The line names the server: `lost the connection to HOST:PORT: ` would say it twice.
    const prefix = `lost the connection to ${this.server}: `;
    let why = Tracer.describe(reason);
    if (why.startsWith(prefix)) why = why.slice(prefix.length);
    this.#tracer.event("close", { conn: this.conn, server: this.server, reason: why });
  }
}

/** `{"t":N` as the server writes it, read without decoding; a small body parsed otherwise. */
function responseTypeOf(body: Uint8Array): number | undefined {
  // {"t":
  if (
    body[0] === 0x7b && body[1] === 0x22 && body[2] === 0x74 && body[3] === 0x22 &&
    body[4] === 0x3a
  ) {
    let n = 0;
    let i = 5;
    for (; i < body.length && i < 12 && body[i] >= 0x30 && body[i] <= 0x39; i++) {
      n = n * 10 + body[i] - 0x30;
    }
    if (i > 5) return n;
  }
  if (body.length > 64 * 1024) return undefined;
  try {
    const t = JSON.parse(new TextDecoder().decode(body))?.t;
    return typeof t === "number" ? t : undefined;
  } catch {
    return undefined;
  }
}

/** An error response's message (errors are small: parsed whole). */
function errorMessageOf(body: Uint8Array): string {
  if (body.length > 1024 * 1024) return "(error response too large to read)";
  try {
    const r = JSON.parse(new TextDecoder().decode(body))?.r;
    return typeof r?.[0] === "string" ? r[0] : "(error without a message)";
  } catch {
    return "(malformed error response)";
  }
}

/**
 * An error text fit for a trace line: its first line, with everything from its first double
 * quote to its last replaced by `"…"`, at most 300 characters. Double quotes hold values (a
 * key, a shard boundary, r.json's input), which the server does not escape (`Failed to parse
 * "{"a": 1" as JSON`), so only the outermost pair is a sure boundary. Names in backticks
 * (tables, fields) stay.
 *
 * @example
 * ```ts
 * redact('Cannot perform read: primary replica for shard ["k1", +inf) not available');
 * // 'Cannot perform read: primary replica for shard ["…", +inf) not available'
 * ```
 */
export function redact(text: string): string {
  let out = text.split("\n", 1)[0];
  const open = out.indexOf('"');
  if (open >= 0) {
    const close = out.lastIndexOf('"');
    out = close > open
      ? `${out.slice(0, open)}"…"${out.slice(close + 1)}`
      : `${out.slice(0, open)}"…`;
  }
  return out.length > MAX_ERROR_CHARS ? `${out.slice(0, MAX_ERROR_CHARS)}…` : out;
}

/** The second {@link iso} last formatted, and its text up to the milliseconds. */
let isoSecond = NaN;
let isoPrefix = "";

/**
 * `ms` (epoch) as ISO 8601 UTC with milliseconds. `Date.toISOString` costs 1.5 µs, two per
 * query line: the text of the current second is reused, and only the milliseconds are added.
 */
function iso(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const milli = ms - second * 1000;
  return `${isoPrefix}${milli < 10 ? "00" : milli < 100 ? "0" : ""}${milli}Z`;
}
