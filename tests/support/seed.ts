/**
 * Recreates the data of the official archive (`official-dumps/full.tar.gz`) on a server, over the
 * wire with rethinkdb-ts, so it works on the test server and on a real RethinkDB alike: databases,
 * tables with their primary keys, documents (pseudo-types raw), secondary indexes and write hooks
 * from their function blobs.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { type Connection, r } from "npm:rethinkdb-ts@3.0.0";
import { readTarGz, specDir } from "./shared.ts";
import type { TestTarget } from "./target.ts";

/** One table of the official archive. */
export interface OfficialTable {
  db: string;
  name: string;
  /** The `.info` entry. */
  info: {
    primary_key: string;
    indexes: { index: string; function: { data: string } }[];
    write_hook: { function: { data: string }; query: string } | null;
  };
  /** The `.json` entry as text. */
  json: string;
  /** The documents. */
  docs: unknown[];
}

/** Reads the tables of `official-dumps/full.tar.gz`. */
export async function readOfficialArchive(): Promise<OfficialTable[]> {
  const files = await readTarGz(new URL("official-dumps/full.tar.gz", specDir()));
  const tables = new Map<string, Partial<OfficialTable>>();
  const decoder = new TextDecoder();
  for (const file of files) {
    const m = /^[^/]+\/([^/]+)\/(.+)\.(json|info)$/.exec(file.name);
    if (m === null) continue;
    const [, db, name, ext] = m;
    const table = tables.get(`${db}.${name}`) ?? { db, name };
    const text = decoder.decode(file.bytes);
    if (ext === "info") table.info = JSON.parse(text);
    else {
      table.json = text;
      table.docs = JSON.parse(text);
    }
    tables.set(`${db}.${name}`, table);
  }
  return [...tables.values()] as OfficialTable[];
}

/** Options of {@link seedOfficialData}. */
export interface SeedOptions {
  /** Prefix for the database names (`league` → `<prefix>league`); default none. */
  dbPrefix?: string;
  /** Only these `db.table` names (archive names); default all. */
  only?: string[];
}

/** What was created. */
export interface SeedResult {
  /** Created database names (with prefix). */
  dbs: string[];
  tables: OfficialTable[];
}

const BATCH_BYTES = 1024 * 1024;

async function insertAll(conn: Connection, db: string, table: OfficialTable): Promise<void> {
  let batch: string[] = [];
  let size = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    // r.json keeps every value exactly as in the archive (pseudo-types, big integers).
    await r.db(db).table(table.name).insert(r.json(`[${batch.join(",")}]`)).run(conn);
    batch = [];
    size = 0;
  };
  for (const doc of table.docs) {
    const text = JSON.stringify(doc);
    batch.push(text);
    size += text.length;
    if (size >= BATCH_BYTES) await flush();
  }
  await flush();
}

/**
 * Creates the archive's databases (registered on the target for cleanup), tables, documents,
 * indexes and write hooks. Documents are inserted before the hooks are set, so they are stored
 * unchanged.
 */
export async function seedOfficialData(
  target: TestTarget,
  options: SeedOptions = {},
): Promise<SeedResult> {
  const prefix = options.dbPrefix ?? "";
  const tables = (await readOfficialArchive()).filter((t) =>
    options.only === undefined || options.only.includes(`${t.db}.${t.name}`)
  );
  const conn = await target.connect();
  const dbs = [...new Set(tables.map((t) => prefix + t.db))].sort();
  const existing = await r.dbList().run(conn);
  for (const db of dbs) {
    if (!existing.includes(db)) {
      await r.dbCreate(db).run(conn);
      target.track(db);
    }
  }
  for (const table of tables) {
    const db = prefix + table.db;
    await r.db(db).tableCreate(table.name, { primaryKey: table.info.primary_key }).run(conn);
    await insertAll(conn, db, table);
    for (const index of table.info.indexes) {
      const blob = Buffer.from(index.function.data, "base64");
      await r.db(db).table(table.name).indexCreate(index.index, r.binary(blob)).run(conn);
    }
    if (table.info.indexes.length > 0) await r.db(db).table(table.name).indexWait().run(conn);
    if (table.info.write_hook !== null) {
      const blob = Buffer.from(table.info.write_hook.function.data, "base64");
      await r.db(db).table(table.name).setWriteHook(blob).run(conn);
    }
  }
  return { dbs, tables };
}
