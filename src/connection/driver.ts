/**
 * The queries the backup tool runs, over the tool's own wire transport (`transport.ts`). Query
 * terms come from `reql.ts`. Control-query
 * responses are small and parsed; table reads hand out raw document bytes ({@link RawBatch}).
 *
 * Documents are always exchanged raw: TIME, BINARY and GEOMETRY values stay `$reql_type$`
 * objects, exactly as the server sends them, so they round-trip through an archive unchanged.
 *
 * @module
 */

import * as q from "./reql.ts";
import { BackupError } from "../errors.ts";
import { formatAddress, type ServerAddress } from "./address.ts";
import { handshake } from "./handshake.ts";
import type { EmbeddedText } from "./frames.ts";
import type { RawBatch } from "./raw_batch.ts";
import { ReadScanner, scanResponse } from "./raw_documents.ts";
import type { ByteStream } from "./tls_socket.ts";
import { describeConnectError, openSocket } from "./open.ts";
import type { Tracer } from "./trace.ts";
import { Transport } from "./transport.ts";
import { ChangeFeed, type FeedOptions } from "./changefeed.ts";

/** A document as stored: a JSON object, pseudo-types raw. */
export type Document = Record<string, unknown>;

/** A BINARY pseudo-type, as the server sends it with `binary_format: "raw"`. */
export interface RawBinary {
  $reql_type$: "BINARY";
  /** Base64; the server may break it with `\r\n`. */
  data: string;
}

/** `table.info()` as the server returns it. */
export interface TableInfo {
  db: { id: string; name: string; type: "DB" };
  doc_count_estimates: number[];
  id: string;
  indexes: string[];
  name: string;
  primary_key: string;
  type: "TABLE";
  [key: string]: unknown;
}

/** One entry of `table.indexStatus()`, function blob raw. */
export interface IndexStatus {
  function: RawBinary;
  geo: boolean;
  index: string;
  multi: boolean;
  outdated: boolean;
  query: string;
  ready: boolean;
  [key: string]: unknown;
}

/** `table.getWriteHook()`, function blob raw. */
export interface WriteHook {
  function: RawBinary;
  query: string;
}

/** The result object of a write query. */
export interface WriteResult {
  deleted: number;
  errors: number;
  inserted: number;
  replaced: number;
  skipped: number;
  unchanged: number;
  first_error?: string;
  [key: string]: unknown;
}

/** A table name qualified by its database. */
export interface TableName {
  db: string;
  table: string;
}

/** How to reach and log in to the server. */
export interface ConnectOptions extends ServerAddress {
  /** User name; default `admin`. */
  user?: string;
  /** Password; "" or absent for none. Never logged. */
  password?: string;
  /** PEM file of the CA that signed the server's certificate; enables TLS with verification. */
  tlsCaFile?: string;
  /** Seconds to wait for the connection and handshake; default 20. */
  timeoutSeconds?: number;
  /**
   * `--trace`: every connection opened with these options (reconnections included) writes a
   * line per query, and its opening and closing, here. The handshake is never traced.
   */
  tracer?: Tracer;
}

/** Options of {@link Connection.readTable}. */
export interface ReadTableOptions {
  /** The table's primary key; the read is ordered by it. */
  primaryKey: string;
  /** Resume point: only documents whose primary key is strictly greater are read. */
  after?: unknown;
  /** `read_mode: "outdated"`. */
  readOutdated?: boolean;
  /** Ask the server for at most this many documents per batch. */
  maxBatchRows?: number;
  /** Bytes per batch at most (`max_batch_bytes`; the server's default is 1 MB). */
  maxBatchBytes?: number;
  /** Give up on a batch that takes longer than this (ms); the connection is then closed. */
  batchTimeoutMs?: number;
  /** Also give each batch its documents joined with these bytes (0 to 4): `RawBatch.joined`. */
  join?: Uint8Array;
}

/** Options of {@link Connection.insertJson}. */
export interface InsertOptions {
  /** Write durability; default `soft`. */
  durability?: "soft" | "hard";
  /** What to do with an existing primary key; default `error`. */
  conflict?: "error" | "replace";
}

/**
 * The server answered a query with an error. `message` is the server's own text.
 *
 * @example
 * ```ts
 * try { await conn.tableInfo("nope", "t"); } catch (e) {
 *   if (e instanceof ServerError) console.error(e.message); // Database `nope` does not exist.
 * }
 * ```
 */
export class ServerError extends BackupError {
  /** The response type (16 client, 17 compile, 18 runtime error). */
  readonly responseType: number;
  /** The runtime error type code (`e`), e.g. 4100000 for OP_FAILED. */
  readonly errorType?: number;

  constructor(message: string, responseType: number, errorType?: number) {
    super(message);
    this.name = "ServerError";
    this.responseType = responseType;
    this.errorType = errorType;
  }
}

/**
 * The connection broke or timed out while a query was running; the caller may reconnect and
 * retry.
 */
export class ConnectionLostError extends BackupError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, undefined, options);
    this.name = "ConnectionLostError";
  }
}

/** True when `error` means the connection was lost, so a retry on a new connection may work. */
export function isConnectionLost(error: unknown): boolean {
  return error instanceof ConnectionLostError;
}

/** Response types of the wire protocol. */
const ResponseType = { ATOM: 1, SEQUENCE: 2, PARTIAL: 3, CLIENT_ERROR: 16 } as const;

interface ParsedResponse {
  t: number;
  r: unknown[];
  e?: number;
}

/**
 * Opens a connection, turning every failure into a one-line {@link BackupError}.
 *
 * @example
 * ```ts
 * const conn = await connect({ host: "localhost", port: 28015, password: "" });
 * console.log(await conn.serverVersion());
 * await conn.close();
 * ```
 */
export async function connect(options: ConnectOptions): Promise<Connection> {
  const where = formatAddress(options);
  const timeout = options.timeoutSeconds ?? 20;
  let ca: string | undefined;
  if (options.tlsCaFile) {
    try {
      ca = await Deno.readTextFile(options.tlsCaFile);
    } catch {
      throw new BackupError(
        `--tls-cert ${options.tlsCaFile}: cannot read the file; give the PEM file of the CA that signed the server's certificate`,
      );
    }
  }
  let conn: ByteStream | undefined;
  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(new Error("timeout"));
    }, timeout * 1000);
  });
  const opening = (async () => {
    const opened = await openSocket(options, ca);
    if (timedOut) {
      opened.close();
      throw new Error("timeout");
    }
    conn = opened;
    const { leftover } = await handshake(opened, options.user ?? "admin", options.password ?? "");
    return leftover;
  })();
  opening.catch(() => {});
  try {
    const leftover = await Promise.race([opening, deadline]);
    const lost = (why: string, cause?: unknown) =>
      new ConnectionLostError(`lost the connection to ${where}: ${why}`, { cause });
    const trace = options.tracer?.openConnection(where);
    return new Connection(new Transport(conn!, leftover, lost, trace), options);
  } catch (error) {
    try {
      conn?.close();
    } catch {
      // Already closed.
    }
    const failure = timedOut
      ? new BackupError(
        `cannot connect to ${where}: no answer within ${timeout}s; check the address and any firewall`,
      )
      : describeConnectError(error, where, options);
    options.tracer?.connectFailed(where, failure);
    throw failure;
  } finally {
    clearTimeout(timer);
  }
}

/** `table.config()` as the server returns it. */
export interface TableConfig {
  db: string;
  durability: "hard" | "soft";
  id: string;
  indexes: string[];
  name: string;
  primary_key: string;
  shards: { primary_replica: string; replicas: string[]; nonvoting_replicas?: string[] }[];
  write_acks: "majority" | "single" | unknown[];
  write_hook?: unknown;
  [key: string]: unknown;
}

/** Changes accepted by {@link Connection.updateTableConfig}. */
export interface TableConfigChanges {
  /** `"hard"` or `"soft"`; the server validates it. */
  durability?: string;
  /** `"majority"` or `"single"` as saved from `config()`; the server validates it. */
  write_acks?: unknown;
}

/**
 * An open connection with the queries the backup tool needs. Several queries may run on it at
 * once.
 *
 * @example
 * ```ts
 * const conn = await connect({ host: "localhost", port: 28015 });
 * console.log(await conn.listDatabases());
 * await conn.close();
 * ```
 */
export class Connection {
  readonly #transport: Transport;
  readonly #where: string;

  /** Use {@link connect}. */
  constructor(transport: Transport, address: ServerAddress) {
    this.#transport = transport;
    this.#where = formatAddress(address);
  }

  /** Closes the connection and fails its pending queries; safe to call twice. */
  async close(): Promise<void> {
    await this.#transport.close();
  }

  /** The server's version string, e.g. `rethinkdb 2.4.4 (x86_64-linux-gnu) (GCC 12.2.0)`. */
  async serverVersion(): Promise<string> {
    const rows = await this.#run(
      q.pluck(q.table("rethinkdb", "server_status"), { process: ["version"] }),
    ) as { process: { version: string } }[];
    return rows[0]?.process?.version ?? "unknown";
  }

  /** All database names, the system database `rethinkdb` included. */
  async listDatabases(): Promise<string[]> {
    return await this.#run(q.dbList()) as string[];
  }

  /** Every user table of every database (the system database excluded). */
  async listTables(): Promise<TableName[]> {
    const rows = await this.#run(
      q.pluck(q.table("rethinkdb", "table_config"), "db", "name"),
    ) as { db: string; name: string }[];
    return rows
      .filter((row) => row.db !== "rethinkdb")
      .map((row) => ({ db: row.db, table: row.name }));
  }

  /** `table.info()`, raw. */
  async tableInfo(db: string, table: string): Promise<TableInfo> {
    return await this.#run(q.info(q.table(db, table))) as TableInfo;
  }

  /**
   * `table.config()`, raw: shards, replicas, durability, write_acks.
   *
   * @example
   * ```ts
   * const conn = await connect({ host: "localhost", port: 28015 });
   * console.log((await conn.tableConfig("league", "users")).durability); // hard
   * ```
   */
  async tableConfig(db: string, table: string): Promise<TableConfig> {
    return await this.#run(q.config(q.table(db, table))) as TableConfig;
  }

  /**
   * The number of servers in the cluster (documents of `rethinkdb.server_status`).
   *
   * @example
   * ```ts
   * const conn = await connect({ host: "localhost", port: 28015 });
   * console.log(await conn.serverCount()); // 1
   * ```
   */
  async serverCount(): Promise<number> {
    return await this.#run(q.count(q.table("rethinkdb", "server_status"))) as number;
  }

  /**
   * Changes a table's durability and/or write acknowledgements (`config().update(changes)`).
   *
   * @example
   * ```ts
   * const conn = await connect({ host: "localhost", port: 28015 });
   * await conn.updateTableConfig("league", "users", { durability: "soft" });
   * ```
   */
  async updateTableConfig(db: string, table: string, changes: TableConfigChanges): Promise<void> {
    const result = await this.#run(
      q.update(q.config(q.table(db, table)), { ...changes }),
    ) as WriteResult;
    if (result.errors > 0) {
      throw new ServerError(
        `cannot change the configuration of ${db}.${table}: ${result.first_error ?? "error"}`,
        ResponseType.ATOM,
      );
    }
  }

  /** `table.indexStatus()`, function blobs raw. */
  async indexStatus(db: string, table: string): Promise<IndexStatus[]> {
    return await this.#run(q.indexStatus(q.table(db, table))) as IndexStatus[];
  }

  /** `table.getWriteHook()`, raw, or null. */
  async writeHook(db: string, table: string): Promise<WriteHook | null> {
    return await this.#run(q.getWriteHook(q.table(db, table))) as WriteHook | null;
  }

  /** The server's estimate of a table's document count (sum over shards). */
  async docCountEstimate(db: string, table: string): Promise<number> {
    return await this.#run(
      q.sum(q.bracket(q.info(q.table(db, table)), "doc_count_estimates")),
    ) as number;
  }

  /**
   * Reads a table in primary-key order, batch by batch, each as the bytes the server sent:
   * documents are located, not parsed (only the last one's primary key is). The next batch is
   * requested as soon as one arrives, so the server works while the caller writes. A batch's
   * bytes are valid until the next batch is asked for (their buffer is then reused).
   *
   * @example
   * ```ts
   * const conn = await connect({ host: "localhost", port: 28015 });
   * for await (const batch of conn.readTableRaw("league", "users", { primaryKey: "uid" })) {
   *   console.log(batch.count, batch.lastKey);
   * }
   * ```
   */
  async *readTableRaw(
    db: string,
    table: string,
    options: ReadTableOptions,
  ): AsyncGenerator<RawBatch> {
    const source = q.table(db, table, { outdated: options.readOutdated });
    const range = options.after === undefined ? source : q.after(source, options.after);
    const query = q.orderBy(range, options.primaryKey);
    const optargs: Record<string, unknown> = {};
    if (options.maxBatchRows) optargs.max_batch_rows = options.maxBatchRows;
    if (options.maxBatchBytes) optargs.max_batch_bytes = options.maxBatchBytes;
    let asked = performance.now();
    const token = await this.#start(query, optargs);
    const scanner = new ReadScanner({ join: options.join });
    let finished = false;
    // Each frame's arrival is noted as it arrives, even while the caller still holds the last
    // batch (a paced dump pauses between batches), so that `roundTripMs` is the server's.
    let arrived = 0;
    const watch = () => {
      const reading = this.#transport.next(token).then((body) => {
        arrived = performance.now();
        return body;
      });
      reading.catch(() => {}); // awaited later, or dropped with the query
      return reading;
    };
    let reading = watch();
    const askNext = async () => {
      asked = performance.now();
      reading = watch();
      await this.#continue(token);
    };
    try {
      while (true) {
        const body = await this.#next(token, options.batchTimeoutMs, reading);
        const roundTripMs = arrived - asked;
        // The server sends `{"t":3,…`: the next batch is asked for before this one is scanned,
        // so the server works on it meanwhile.
        const early = isPartial(body);
        if (early) await askNext();
        const { type, batch } = scanOrFail(body, options.primaryKey, scanner);
        finished = type !== ResponseType.PARTIAL;
        if (!finished && !early) await askNext();
        yield { ...batch, roundTripMs };
        // The caller has asked for the next batch: this one's bytes are no longer read.
        this.#transport.release(body);
        if (finished) return;
      }
    } finally {
      scanner.close();
      if (finished) this.#transport.finish(token);
      else await this.#transport.stop(token);
    }
  }

  /**
   * Reads a table like {@link readTableRaw}, each batch parsed into documents. For tests and
   * tools that need values; the dump copies raw bytes instead.
   *
   * @example
   * ```ts
   * const conn = await connect({ host: "localhost", port: 28015 });
   * for await (const batch of conn.readTable("league", "users", { primaryKey: "uid" })) {
   *   for (const doc of batch) console.log(doc.uid);
   * }
   * ```
   */
  async *readTable(
    db: string,
    table: string,
    options: ReadTableOptions,
  ): AsyncGenerator<Document[]> {
    const decoder = new TextDecoder();
    for await (const batch of this.readTableRaw(db, table, options)) {
      const docs: Document[] = [];
      for (let i = 0; i < batch.count; i++) {
        docs.push(JSON.parse(decoder.decode(batch.frame.subarray(batch.starts[i], batch.ends[i]))));
      }
      yield docs;
    }
  }

  /**
   * Opens a changefeed on a whole table and resolves once the server says it is ready: every
   * write committed from then on goes to `options.sink` (see {@link ChangeFeed}).
   *
   * @example
   * ```ts
   * const conn = await connect({ host: "localhost", port: 28015 });
   * const feed = await conn.changes("league", "users", {
   *   primaryKey: "id",
   *   what: "the changes of league.users",
   *   sink: (changes) => console.log(changes.length),
   * });
   * await feed.stop();
   * ```
   */
  async changes(
    db: string,
    table: string,
    options: FeedOptions & { queueSize?: number },
  ): Promise<ChangeFeed> {
    const optargs: Record<string, unknown> = { include_states: true };
    if (options.queueSize) optargs.changefeed_queue_size = options.queueSize;
    const token = await this.#start(q.changes(q.table(db, table), optargs), {});
    return await ChangeFeed.open(this.#transport, token, options);
  }

  /** Creates a database. */
  async createDatabase(db: string): Promise<void> {
    await this.#run(q.dbCreate(db));
  }

  /** Drops a database and every table in it. */
  async dropDatabase(db: string): Promise<void> {
    await this.#run(q.dbDrop(db));
  }

  /** Drops a table. */
  async dropTable(db: string, table: string): Promise<void> {
    await this.#run(q.tableDrop(db, table));
  }

  /** Creates a table; `shards` and `replicas` are passed only when given. */
  async createTable(
    db: string,
    table: string,
    options: { primaryKey: string; shards?: number; replicas?: number },
  ): Promise<void> {
    const optargs: Record<string, unknown> = { primary_key: options.primaryKey };
    if (options.shards !== undefined) optargs.shards = options.shards;
    if (options.replicas !== undefined) optargs.replicas = options.replicas;
    await this.#run(q.tableCreate(db, table, optargs));
  }

  /** Makes every write to a table so far durable (`table.sync()`). */
  async sync(db: string, table: string): Promise<void> {
    await this.#run(q.sync(q.table(db, table)));
  }

  /** Waits until a table is ready for writes. */
  async waitForTable(db: string, table: string, timeoutSeconds = 60): Promise<void> {
    await this.#run(q.wait(q.table(db, table), timeoutSeconds));
  }

  /**
   * Inserts the documents of a JSON array text, parsed by the server (`r.json`), so every value
   * arrives exactly as written, pseudo-types included. Write hooks are not applied. Given as
   * UTF-8 bytes, the text goes into the query as it is (escaped), never decoded.
   */
  async insertJson(
    db: string,
    table: string,
    jsonArray: string | Uint8Array,
    options: InsertOptions = {},
  ): Promise<WriteResult> {
    const bytes = typeof jsonArray === "string" ? undefined : jsonArray;
    const query = q.insertJson(q.table(db, table), bytes ? EMBEDDED_MARKER : jsonArray as string, {
      durability: options.durability ?? "soft",
      conflict: options.conflict ?? "error",
      ignore_write_hook: true,
    });
    return await this.#run(query, bytes && { marker: EMBEDDED_MARKER, text: bytes }) as WriteResult;
  }

  /**
   * Deletes the documents whose primary keys a JSON array text lists
   * (`table.getAll(r.args(r.json(text))).delete()`), parsed by the server, so every key arrives
   * exactly as written. Write hooks are not applied; keys the table does not hold are skipped.
   * Given as UTF-8 bytes, the text goes into the query as it is (escaped), never decoded.
   *
   * @example
   * ```ts
   * const conn = await connect({ host: "localhost", port: 28015 });
   * const result = await conn.deleteKeysJson("league", "users", new TextEncoder().encode("[1,2]"));
   * result.deleted; // 2, or fewer if some were absent
   * ```
   */
  async deleteKeysJson(
    db: string,
    table: string,
    keysJsonArray: string | Uint8Array,
    options: Pick<InsertOptions, "durability"> = {},
  ): Promise<WriteResult> {
    const bytes = typeof keysJsonArray === "string" ? undefined : keysJsonArray;
    const text = bytes ? EMBEDDED_MARKER : keysJsonArray as string;
    const query = q.deleteKeysJson(q.table(db, table), text, {
      durability: options.durability ?? "soft",
      ignore_write_hook: true,
    });
    return await this.#run(query, bytes && { marker: EMBEDDED_MARKER, text: bytes }) as WriteResult;
  }

  /** Creates a secondary index from its function blob (as `indexStatus()` returned it). */
  async createIndex(db: string, table: string, name: string, fn: RawBinary): Promise<void> {
    await this.#run(q.indexCreate(q.table(db, table), name, q.binary(fn.data)));
  }

  /** Waits for the named secondary indexes (all when none are named) to be ready. */
  async waitForIndexes(db: string, table: string, names: string[] = []): Promise<void> {
    await this.#run(q.indexWait(q.table(db, table), names));
  }

  /** Sets a table's write hook from its function blob, or removes it with `null`. */
  async setWriteHook(db: string, table: string, fn: RawBinary | null): Promise<void> {
    await this.#run(q.setWriteHook(q.table(db, table), fn === null ? null : q.binary(fn.data)));
  }

  /** Runs a query and returns its whole result (atom, or every batch of a sequence). */
  async #run(query: q.Term, embedded?: EmbeddedText): Promise<unknown> {
    const token = await this.#start(query, {}, embedded);
    const rows: unknown[] = [];
    try {
      while (true) {
        const response = JSON.parse(
          new TextDecoder().decode(await this.#next(token)),
        ) as ParsedResponse;
        if (response.t === ResponseType.ATOM) return response.r[0];
        if (response.t > ResponseType.PARTIAL) throw serverError(response);
        for (const row of response.r) rows.push(row);
        if (response.t === ResponseType.SEQUENCE) return rows;
        await this.#continue(token);
      }
    } finally {
      this.#transport.finish(token);
    }
  }

  async #start(
    term: q.Term,
    optargs: Record<string, unknown>,
    embedded?: EmbeddedText,
  ): Promise<number> {
    if (!this.#transport.open) {
      throw new ConnectionLostError(`the connection to ${this.#where} is closed`);
    }
    return await this.#transport.start(term, optargs, embedded);
  }

  async #continue(token: number): Promise<void> {
    await this.#transport.continue(token);
  }

  async #next(
    token: number,
    timeoutMs?: number,
    reading: Promise<Uint8Array> = this.#transport.next(token),
  ): Promise<Uint8Array> {
    if (!timeoutMs) return await reading;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new ConnectionLostError(`no answer from ${this.#where} within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([reading, timedOut]);
    } catch (error) {
      reading.catch(() => {});
      // A late batch would leave the query in an unknown state: the connection is given up.
      if (!(error instanceof ConnectionLostError) || this.#transport.open) {
        await this.#transport.close();
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}

function scanOrFail(
  body: Uint8Array,
  primaryKey: string,
  scanner: ReadScanner,
): ReturnType<typeof scanResponse> {
  const scanned = scanResponse(body, primaryKey, scanner);
  if (scanned.type > ResponseType.PARTIAL) {
    // Error responses are small: parse them whole for the message.
    throw serverError(JSON.parse(new TextDecoder().decode(body)) as ParsedResponse);
  }
  return scanned;
}

const PARTIAL_PREFIX = new TextEncoder().encode(`{"t":${ResponseType.PARTIAL},`);

/** Whether a response body starts `{"t":3,` (a partial sequence, in the server's key order). */
function isPartial(body: Uint8Array): boolean {
  if (body.length < PARTIAL_PREFIX.length) return false;
  for (let i = 0; i < PARTIAL_PREFIX.length; i++) if (body[i] !== PARTIAL_PREFIX[i]) return false;
  return true;
}

/** Stands in the query for the bytes of an {@link Connection.insertJson} text. */
const EMBEDDED_MARKER = "\u0000rethinkdb-backup:documents\u0000";

function serverError(response: ParsedResponse): ServerError {
  const message = typeof response.r?.[0] === "string"
    ? response.r[0] as string
    : JSON.stringify(response.r);
  return new ServerError(message, response.t, response.e);
}
