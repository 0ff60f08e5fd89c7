/**
 * The one module that talks to RethinkDB. It wraps the `rethinkdb-ts` driver so that the rest of
 * the tool (and its tests) never touch the driver directly, and a future driver swap changes only
 * this file.
 *
 * Documents are always exchanged raw: TIME, BINARY and GEOMETRY values stay `$reql_type$`
 * objects, exactly as the server sends them, so they round-trip through an archive unchanged.
 *
 * @module
 */

import { r, RethinkDBErrorType } from "npm:rethinkdb-ts@3.0.0";
import type { RConnectionOptions, RethinkDBError, RQuery } from "npm:rethinkdb-ts@3.0.0";

/** A query term in the wire JSON form. */
type TermJson = unknown;
import { Buffer } from "node:buffer";
import { BackupError } from "../errors.ts";
import { formatAddress, type ServerAddress } from "./address.ts";

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
  /** Give up on a batch that takes longer than this (ms); the connection is then closed. */
  batchTimeoutMs?: number;
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

/** Query types of the wire protocol. */
const QueryType = { START: 1, CONTINUE: 2, STOP: 3 } as const;
/** Response types of the wire protocol. */
const ResponseType = { ATOM: 1, SEQUENCE: 2, PARTIAL: 3 } as const;

interface RawResponse {
  t: number;
  r: unknown[];
  e?: number;
  n?: number[];
}

/** The parts of rethinkdb-ts's socket this module uses for batch-level reads. */
interface DriverSocket {
  sendQuery(query: unknown[], token?: number): number;
  readNext(token: number): Promise<RawResponse>;
  continueQuery(token: number): void;
  stopQuery(token: number): void;
  readonly status: string;
}

interface DriverConnection {
  readonly socket: DriverSocket;
  readonly open: boolean;
  close(): Promise<void>;
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
  const server: NonNullable<RConnectionOptions["server"]> = {
    host: options.host,
    port: options.port,
  };
  if (options.tlsCaFile) {
    let ca: string;
    try {
      ca = await Deno.readTextFile(options.tlsCaFile);
    } catch {
      throw new BackupError(
        `--tls-cert ${options.tlsCaFile}: cannot read the file; give the PEM file of the CA that signed the server's certificate`,
      );
    }
    Object.assign(server, { tls: true, ca });
    // SNI takes host names only; an IP address there is rejected by the TLS stack.
    if (!/^[\d.]+$/.test(options.host) && !options.host.includes(":")) {
      Object.assign(server, { servername: options.host });
    }
  }
  try {
    const conn = await r.connect({
      server,
      user: options.user ?? "admin",
      password: options.password ?? "",
      timeout,
      silent: true,
    });
    return new Connection(conn as unknown as DriverConnection, options);
  } catch (error) {
    throw describeConnectError(error, where, options, timeout);
  }
}

function describeConnectError(
  error: unknown,
  where: string,
  options: ConnectOptions,
  timeout: number,
): BackupError {
  const driverError = error as RethinkDBError & { cause?: unknown };
  const cause = (driverError?.cause ?? error) as { code?: string; message?: string };
  const code = cause?.code ?? "";
  const text = String(cause?.message ?? driverError?.message ?? error);
  const user = options.user ?? "admin";
  if (/wrong password/i.test(text) || (driverError as { errorCode?: number })?.errorCode === 12) {
    return new BackupError(
      `cannot log in to ${where} as \`${user}\`: wrong password; give the right one with -p or --password-file`,
    );
  }
  if (/unknown user/i.test(text)) {
    return new BackupError(`cannot log in to ${where}: unknown user \`${user}\`; check -u`);
  }
  if (driverError?.type === RethinkDBErrorType.TIMEOUT || /in less than/.test(text)) {
    return new BackupError(
      `cannot connect to ${where}: no answer within ${timeout}s; check the address and any firewall`,
    );
  }
  if (code === "ECONNREFUSED" || /refused/i.test(text)) {
    return new BackupError(
      `cannot connect to ${where}: connection refused; is RethinkDB running there? (set the address with -c HOST:PORT)`,
    );
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN" || /lookup|resolve|not known/i.test(text)) {
    return new BackupError(
      `cannot connect to ${where}: host \`${options.host}\` not found; check -c HOST:PORT`,
    );
  }
  if (options.tlsCaFile || /certificate|tls|ssl|handshake/i.test(text)) {
    return new BackupError(
      `TLS connection to ${where} failed: ${
        firstLineOf(text)
      }; check --tls-cert and that the server has TLS enabled`,
    );
  }
  return new BackupError(`cannot connect to ${where}: ${firstLineOf(text)}`);
}

function firstLineOf(text: string): string {
  return text.split("\n")[0].replace(/\.$/, "");
}

/**
 * An open connection with the queries the backup tool needs. Several queries may run on it at
 * once.
 */
export class Connection {
  readonly #conn: DriverConnection;
  readonly #where: string;

  /** Use {@link connect}. */
  constructor(conn: DriverConnection, address: ServerAddress) {
    this.#conn = conn;
    this.#where = formatAddress(address);
  }

  /** Closes the connection; safe to call twice. */
  async close(): Promise<void> {
    try {
      await this.#conn.close();
    } catch {
      // Closing a broken connection is not an error worth reporting.
    }
  }

  /** The server's version string, e.g. `rethinkdb 2.4.4 (x86_64-linux-gnu) (GCC 12.2.0)`. */
  async serverVersion(): Promise<string> {
    const rows = await this.#run(
      r.db("rethinkdb").table("server_status").pluck({ process: ["version"] }),
    ) as { process: { version: string } }[];
    return rows[0]?.process?.version ?? "unknown";
  }

  /** All database names, the system database `rethinkdb` included. */
  async listDatabases(): Promise<string[]> {
    return await this.#run(r.dbList()) as string[];
  }

  /** Every user table of every database (the system database excluded). */
  async listTables(): Promise<TableName[]> {
    const rows = await this.#run(
      r.db("rethinkdb").table("table_config").pluck("db", "name"),
    ) as { db: string; name: string }[];
    return rows
      .filter((row) => row.db !== "rethinkdb")
      .map((row) => ({ db: row.db, table: row.name }));
  }

  /** `table.info()`, raw. */
  async tableInfo(db: string, table: string): Promise<TableInfo> {
    return await this.#run(r.db(db).table(table).info()) as TableInfo;
  }

  /** `table.indexStatus()`, function blobs raw. */
  async indexStatus(db: string, table: string): Promise<IndexStatus[]> {
    return await this.#run(r.db(db).table(table).indexStatus()) as IndexStatus[];
  }

  /** `table.getWriteHook()`, raw, or null. */
  async writeHook(db: string, table: string): Promise<WriteHook | null> {
    return await this.#run(r.db(db).table(table).getWriteHook()) as WriteHook | null;
  }

  /** The server's estimate of a table's document count (sum over shards). */
  async docCountEstimate(db: string, table: string): Promise<number> {
    return await this.#run(r.db(db).table(table).info()("doc_count_estimates").sum()) as number;
  }

  /**
   * Reads a table in primary-key order, batch by batch, as the server sends them. The next batch
   * is requested as soon as one arrives, so the server works while the caller writes.
   *
   * @example
   * ```ts
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
    const source = r.db(db).table(table, options.readOutdated ? { readMode: "outdated" } : {});
    const range = options.after === undefined
      ? source
      : source.between(options.after, r.maxval, { leftBound: "open" });
    const query = range.orderBy({ index: options.primaryKey });
    const optargs: Record<string, unknown> = {};
    if (options.maxBatchRows) optargs.max_batch_rows = options.maxBatchRows;
    const socket = this.#socket();
    const token = this.#send(socket, termOf(query), optargs);
    let finished = false;
    try {
      while (true) {
        const response = await this.#read(socket, token, options.batchTimeoutMs);
        if (response.t === ResponseType.PARTIAL) socket.continueQuery(token);
        else finished = true;
        if (response.t > ResponseType.PARTIAL) throw serverError(response);
        yield response.r as Document[];
        if (finished) return;
      }
    } finally {
      if (!finished && socket.status === "open") socket.stopQuery(token);
    }
  }

  /** Creates a database. */
  async createDatabase(db: string): Promise<void> {
    await this.#run(r.dbCreate(db));
  }

  /** Creates a table; `shards` and `replicas` are passed only when given. */
  async createTable(
    db: string,
    table: string,
    options: { primaryKey: string; shards?: number; replicas?: number },
  ): Promise<void> {
    const optargs: Record<string, unknown> = { primaryKey: options.primaryKey };
    if (options.shards !== undefined) optargs.shards = options.shards;
    if (options.replicas !== undefined) optargs.replicas = options.replicas;
    await this.#run(r.db(db).tableCreate(table, optargs));
  }

  /** Waits until a table is ready for writes. */
  async waitForTable(db: string, table: string, timeoutSeconds = 60): Promise<void> {
    await this.#run(r.db(db).table(table).wait({ timeout: timeoutSeconds }));
  }

  /**
   * Inserts the documents of a JSON array text, parsed by the server (`r.json`), so every value
   * arrives exactly as written, pseudo-types included. Write hooks are not applied.
   */
  async insertJson(
    db: string,
    table: string,
    jsonArray: string,
    options: InsertOptions = {},
  ): Promise<WriteResult> {
    return await this.#run(
      r.db(db).table(table).insert(r.json(jsonArray), {
        durability: options.durability ?? "soft",
        conflict: options.conflict ?? "error",
        ignoreWriteHook: true,
      }),
    ) as WriteResult;
  }

  /** Creates a secondary index from its function blob (as `indexStatus()` returned it). */
  async createIndex(db: string, table: string, name: string, fn: RawBinary): Promise<void> {
    await this.#run(r.db(db).table(table).indexCreate(name, r.binary(binaryBytes(fn))));
  }

  /** Waits for the named secondary indexes (all when none are named) to be ready. */
  async waitForIndexes(db: string, table: string, names: string[] = []): Promise<void> {
    const t = r.db(db).table(table);
    await this.#run(names.length === 0 ? t.indexWait() : t.indexWait(...names));
  }

  /** Sets a table's write hook from its function blob, or removes it with `null`. */
  async setWriteHook(db: string, table: string, fn: RawBinary | null): Promise<void> {
    const value = fn === null ? null : r.binary(binaryBytes(fn));
    await this.#run(r.db(db).table(table).setWriteHook(value as never));
  }

  /** Runs a query and returns its whole result (atom, or every batch of a sequence). */
  async #run(query: RQuery): Promise<unknown> {
    const socket = this.#socket();
    const token = this.#send(socket, termOf(query), {});
    const rows: unknown[] = [];
    while (true) {
      const response = await this.#read(socket, token);
      if (response.t === ResponseType.ATOM) return response.r[0];
      if (response.t > ResponseType.PARTIAL) throw serverError(response);
      rows.push(...response.r);
      if (response.t === ResponseType.SEQUENCE) return rows;
      socket.continueQuery(token);
    }
  }

  #socket(): DriverSocket {
    const socket = this.#conn.socket;
    if (socket.status !== "open") {
      throw new ConnectionLostError(`the connection to ${this.#where} is closed`);
    }
    return socket;
  }

  #send(socket: DriverSocket, term: TermJson, optargs: Record<string, unknown>): number {
    try {
      return socket.sendQuery([QueryType.START, term, optargs]);
    } catch (error) {
      throw this.#lost(error);
    }
  }

  async #read(socket: DriverSocket, token: number, timeoutMs?: number): Promise<RawResponse> {
    const reading = socket.readNext(token);
    if (!timeoutMs) {
      try {
        return await reading;
      } catch (error) {
        throw this.#lost(error);
      }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new ConnectionLostError(`no answer from ${this.#where} within ${timeoutMs} ms`));
        void this.close();
      }, timeoutMs);
    });
    try {
      return await Promise.race([reading, timedOut]);
    } catch (error) {
      reading.catch(() => {});
      throw this.#lost(error);
    } finally {
      clearTimeout(timer);
    }
  }

  #lost(error: unknown): BackupError {
    if (error instanceof BackupError) return error;
    const text = error instanceof Error ? error.message.split("\n")[0] : String(error);
    return new ConnectionLostError(`lost the connection to ${this.#where}: ${text}`, {
      cause: error,
    });
  }
}

function termOf(query: RQuery): TermJson {
  return (query as unknown as { term: TermJson }).term;
}

function serverError(response: RawResponse): ServerError {
  const message = typeof response.r?.[0] === "string"
    ? response.r[0] as string
    : JSON.stringify(response.r);
  return new ServerError(message, response.t, response.e);
}

function binaryBytes(fn: RawBinary): Buffer {
  return Buffer.from(fn.data.replace(/[\r\n]/g, ""), "base64");
}
