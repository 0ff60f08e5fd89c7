/**
 * `deno task bench [--docs N ...] [--server HOST:PORT] [--many] [--tables N] [--big] [--capture]`:
 * dump and
 * restore speed and
 * memory, each against a baseline measured in the same run on the same data:
 *
 * - dump wall time / a raw wire read of the same table (`scripts/raw_read.ts`: frames read and
 *   discarded), and / the same raw read while `gzip -6` of the table's JSON runs beside it (where
 *   server and client share the cores, the compression's CPU slows the server); dump client CPU
 *   / `gzip -6` of the same JSON; dump peak RSS.
 * - restore documents/s / a bare client inserting the same documents in `r.json` batches
 *   (`scripts/bare_insert.ts`); restore peak RSS.
 * - `--many`: 100 tables × 50 documents, a third with a secondary index: dump and restore wall
 *   and peak RSS. `--tables N` sets the number of tables (the thousands-of-tables shape: 1000).
 * - `--capture`: the cost of change capture (the point-in-time dump, on by default): dumps with
 *   and without it (`--no-capture`), alternating, of the 100k-document table and of 100 tables
 *   with no writes; then of the 100k table while a writer updates it at about 1,000
 *   operations/s (from this process, paced), with the changes captured.
 * - `--big`: the large-document shape, 3 documents of 30 MB (30 strings of 1 MB each) and 5,000
 *   small ones: dump wall / raw read, and peak RSS of dump and restore against the largest
 *   document.
 *
 * Against the test server (default, its own process) schema changes get the real server's
 * latency (tableCreate 270 ms, indexWait 55 ms); `--server` measures a real RethinkDB instead
 * (databases `bench_*` are created and dropped there). Each measured command runs under
 * `/usr/bin/time` (GNU time) for CPU and peak RSS.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { connect } from "../src/connection/driver.ts";
import { r } from "npm:rethinkdb-ts@3.0.0";
import { PERMISSION_FLAGS } from "../src/cli/permissions.ts";
import { whileDatabaseUnseen } from "../src/restore/writer.ts";
import { makeDoc, measure, startServerProcess, type Usage } from "./bench_support.ts";

const root = new URL("../", import.meta.url);

/**
 * Raw read and dump of one table, alternating (raw, dump, dump, raw; best wall of each pair):
 * a server still settling after the seed inserts, or warming its cache, slows whichever runs
 * first.
 */
async function readAndDump(
  address: string,
  db: string,
  archive: string,
): Promise<{ raw: Usage; dump: Usage }> {
  const raw = () => measure(deno([script("raw_read.ts"), address, db, "docs"]));
  const dump = () =>
    measure(deno([mod, "dump", "-c", address, "-e", db, "-f", archive, "-q", "--overwrite-file"]));
  const r1 = await raw();
  const d1 = await dump();
  const d2 = await dump();
  const r2 = await raw();
  return { raw: best(r1, r2), dump: best(d1, d2) };
}

function best(a: Usage, b: Usage): Usage {
  return a.wall <= b.wall ? a : b;
}

function deno(args: string[]): string[] {
  return [Deno.execPath(), "run", ...PERMISSION_FLAGS, ...args];
}

async function open(address: string) {
  const [host, port] = address.split(":");
  return await connect({ host, port: Number(port) });
}

async function seed(address: string, db: string, docs: number): Promise<void> {
  const conn = await open(address);
  await conn.createDatabase(db);
  await conn.createTable(db, "docs", { primaryKey: "id" });
  await conn.waitForTable(db, "docs");
  const batch = 2000;
  for (let i = 0; i < docs; i += batch) {
    const part = Array.from({ length: Math.min(batch, docs - i) }, (_, k) => makeDoc(i + k));
    await conn.insertJson(db, "docs", JSON.stringify(part));
  }
  await conn.close();
}

/**
 * Waits until the server has written the seeded tables out (soft-durability inserts are flushed
 * in the background, and a measurement taken meanwhile competes with that work).
 */
async function settle(address: string, db: string, tables: string[]): Promise<void> {
  const [host, port] = address.split(":");
  const conn = await r.connect({ host, port: Number(port), silent: true });
  for (const table of tables) await r.db(db).table(table).sync().run(conn);
  await conn.close();
  await new Promise((resolve) => setTimeout(resolve, 2000));
}

async function dropAll(address: string, dbs: string[]): Promise<void> {
  // Schema changes the tool itself never makes go through the rethinkdb-ts client.
  const [host, port] = address.split(":");
  const conn = await r.connect({ host, port: Number(port), silent: true });
  const existing = await r.dbList().run(conn);
  const dropping = dbs.filter((db) => existing.includes(db));
  for (const db of dropping) await r.dbDrop(db).run(conn);
  await conn.close();
  // The server deletes a dropped database's data in the background; a run started meanwhile
  // measures that too.
  if (dropping.length > 0) await new Promise((resolve) => setTimeout(resolve, 10_000));
}

const mod = new URL("mod.ts", root).pathname;
const script = (name: string) => new URL(`scripts/${name}`, root).pathname;

async function run(address: string, docs: number): Promise<Record<string, string>> {
  const dir = await Deno.makeTempDir({ prefix: "rethinkdb-bench-" });
  const db = `bench_${docs}`;
  const dbs = [db, `${db}_r1`, `${db}_r2`, `${db}_b1`, `${db}_b2`];
  try {
    await dropAll(address, dbs);
    await seed(address, db, docs);
    await settle(address, db, ["docs"]);
    const archive = `${dir}/dump.tar.gz`;
    const { raw, dump } = await readAndDump(address, db, archive);

    const json = `${dir}/docs.json`;
    const extract = await new Deno.Command("tar", {
      args: ["xzf", archive, "-C", dir, "--wildcards", "*/docs.json", "--transform", "s|.*/|/|"],
    }).output();
    if (!extract.success) throw new Error("tar could not extract docs.json");
    const jsonBytes = (await Deno.stat(json)).size;
    const gzip = best(
      await measure(["gzip", "-6", "-c", json]),
      await measure(["gzip", "-6", "-c", json]),
    );
    // Server and client share the cores here: compression anywhere slows the server. This is
    // the raw read while a `gzip -6` of the same JSON runs beside it (the pair started together).
    const rawBesideGzip = async () =>
      (await Promise.all([
        measure(deno([script("raw_read.ts"), address, db, "docs"])),
        measure(["gzip", "-6", "-c", json]),
      ]))[0];
    const contended = best(await rawBesideGzip(), await rawBesideGzip());

    // Inserts get slower as the server's data grows, so the two alternate (restore, bare, bare,
    // restore) and the best of each pair counts.
    // Each run's writes are flushed before the next run starts.
    const runRestore = async (n: number) => {
      const usage = await measure(
        deno([mod, "restore", archive, "-c", address, "-q", "--rename", `${db}=${db}_r${n}`]),
      );
      await settle(address, `${db}_r${n}`, ["docs"]);
      return usage;
    };
    const runBare = async (n: number) => {
      const usage = await measure(
        deno([script("bare_insert.ts"), address, `${db}_b${n}`, "docs", json]),
      );
      await settle(address, `${db}_b${n}`, ["docs"]);
      return usage;
    };
    const r1 = await runRestore(1);
    const b1 = await runBare(1);
    const b2 = await runBare(2);
    const r2 = await runRestore(2);
    const restore = best(r1, r2);
    const bare = best(b1, b2);
    return {
      docs: docs.toLocaleString("en-US"),
      "JSON MB": (jsonBytes / 1e6).toFixed(1),
      "raw read s": raw.wall.toFixed(2),
      "dump s": dump.wall.toFixed(2),
      "dump/raw read": (dump.wall / raw.wall).toFixed(2),
      "raw read ∥ gzip s": contended.wall.toFixed(2),
      "dump/(raw ∥ gzip)": (dump.wall / contended.wall).toFixed(2),
      "dump CPU s": dump.cpu.toFixed(2),
      "gzip -6 CPU s": gzip.cpu.toFixed(2),
      "dump CPU/gzip": (dump.cpu / gzip.cpu).toFixed(2),
      "dump RSS MB": dump.maxRssMb.toFixed(0),
      "restore docs/s": Math.round(docs / restore.wall).toLocaleString("en-US"),
      "bare insert docs/s": Math.round(docs / bare.wall).toLocaleString("en-US"),
      "restore/bare": (bare.wall / restore.wall).toFixed(2),
      "restore RSS MB": restore.maxRssMb.toFixed(0),
    };
  } finally {
    await dropAll(address, dbs).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * The baseline of the many-tables shape: what any restore of it must do, by a bare client in
 * this process: the tables created 64 at once over 8 connections, 50 documents inserted into
 * each, an index created and built on every third.
 */
async function bareMany(address: string, db: string, tables: number): Promise<void> {
  const conns = await Promise.all(Array.from({ length: 8 }, () => open(address)));
  const [host, port] = address.split(":");
  const client = await r.connect({ host, port: Number(port), silent: true });
  await conns[0].createDatabase(db);
  let next = 0;
  await Promise.all(Array.from({ length: 64 }, async (_, worker) => {
    const conn = conns[worker % conns.length];
    while (next < tables) {
      const t = next++;
      // A database just recreated under the same name may not be seen yet on this connection.
      await whileDatabaseUnseen(db, () => conn.createTable(db, `t${t}`, { primaryKey: "id" }));
      await conn.waitForTable(db, `t${t}`);
      const part = Array.from({ length: 50 }, (_, k) => makeDoc(k));
      await conn.insertJson(db, `t${t}`, JSON.stringify(part));
      if (t % 3 === 0) {
        await r.db(db).table(`t${t}`).indexCreate("email").run(client);
        await r.db(db).table(`t${t}`).indexWait().run(client);
      }
    }
  }));
  await client.close();
  await Promise.all(conns.map((conn) => conn.close()));
}

/** `tables` tables × 50 documents, a third with a secondary index: dump and restore. */
async function runMany(address: string, tables: number): Promise<Record<string, string>> {
  const dir = await Deno.makeTempDir({ prefix: "rethinkdb-bench-" });
  const db = "bench_many";
  const dbs = [db, `${db}_restored`];
  try {
    await dropAll(address, dbs);
    const conn = await open(address);
    await conn.createDatabase(db);
    const names = Array.from({ length: tables }, (_, t) => `t${t}`);
    // 64 at once: the server creates tables in parallel far faster than one by one.
    for (let i = 0; i < names.length; i += 64) {
      await Promise.all(
        names.slice(i, i + 64).map(async (table) => {
          await whileDatabaseUnseen(db, () => conn.createTable(db, table, { primaryKey: "id" }));
          await conn.waitForTable(db, table);
          const part = Array.from({ length: 50 }, (_, k) => makeDoc(k));
          await conn.insertJson(db, table, JSON.stringify(part));
        }),
      );
    }
    await conn.close();
    const [host, port] = address.split(":");
    const client = await r.connect({ host, port: Number(port), silent: true });
    for (let t = 0; t < tables; t += 3) {
      await r.db(db).table(`t${t}`).indexCreate("email").run(client);
      await r.db(db).table(`t${t}`).indexWait().run(client);
    }
    await client.close();
    const archive = `${dir}/many.tar.gz`;
    const dump = await measure(deno([mod, "dump", "-c", address, "-e", db, "-f", archive, "-q"]));
    const copy = `${db}_restored`;
    const runRestore = async () => {
      const usage = await measure(
        deno([mod, "restore", archive, "-c", address, "-q", "--rename", `${db}=${copy}`]),
      );
      await dropAll(address, [copy]);
      return usage;
    };
    const runBare = async () => {
      const started = performance.now();
      await bareMany(address, copy, tables);
      const wall = (performance.now() - started) / 1000;
      await dropAll(address, [copy]);
      return wall;
    };
    // Table creation on a real server varies a lot from run to run: alternate, best of each.
    const r1 = await runRestore();
    const b1 = await runBare();
    const b2 = await runBare();
    const r2 = await runRestore();
    const restore = best(r1, r2);
    const bare = Math.min(b1, b2);
    return {
      shape: `${tables} tables × 50 docs`,
      "dump s": dump.wall.toFixed(2),
      "dump RSS MB": dump.maxRssMb.toFixed(0),
      "restore s": restore.wall.toFixed(2),
      "bare schema+insert s": bare.toFixed(2),
      "restore/bare": (restore.wall / bare).toFixed(2),
      "restore RSS MB": restore.maxRssMb.toFixed(0),
    };
  } finally {
    await dropAll(address, dbs).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Dumps with capture against dumps without, alternating (on, off, off, on; best of each): of
 * `docs` documents in one table and of `tables` small tables, idle; then of the one table under
 * a writer at about `rate` updates/s.
 */
async function runCapture(
  address: string,
  docs: number,
  tables: number,
  rate: number,
): Promise<Record<string, string>[]> {
  const dir = await Deno.makeTempDir({ prefix: "rethinkdb-bench-" });
  const db = "bench_capture";
  const many = "bench_capture_many";
  const rows: Record<string, string>[] = [];
  try {
    await dropAll(address, [db, many]);
    await seed(address, db, docs);
    const conn = await open(address);
    await conn.createDatabase(many);
    const names = Array.from({ length: tables }, (_, t) => `t${t}`);
    for (let i = 0; i < names.length; i += 64) {
      await Promise.all(
        names.slice(i, i + 64).map(async (table) => {
          await whileDatabaseUnseen(
            many,
            () => conn.createTable(many, table, { primaryKey: "id" }),
          );
          await conn.waitForTable(many, table);
          const part = Array.from({ length: 50 }, (_, k) => makeDoc(k));
          await conn.insertJson(many, table, JSON.stringify(part));
        }),
      );
    }
    await conn.close();
    await settle(address, db, ["docs"]);
    const archive = `${dir}/capture.tar.gz`;
    const dumpOf = (target: string, capture: boolean) => () =>
      measure(deno([
        mod,
        "dump",
        "-c",
        address,
        "-e",
        target,
        "-f",
        archive,
        "-q",
        "--overwrite-file",
        ...(capture ? [] : ["--no-capture"]),
      ]));
    const pair = async (on: () => Promise<Usage>, off: () => Promise<Usage>) => {
      const on1 = await on();
      const off1 = await off();
      const off2 = await off();
      const on2 = await on();
      return { on: best(on1, on2), off: best(off1, off2) };
    };
    const row = (shape: string, { on, off }: { on: Usage; off: Usage }, changes = "0") => ({
      shape,
      "capture s": on.wall.toFixed(2),
      "no capture s": off.wall.toFixed(2),
      "capture/no capture": (on.wall / off.wall).toFixed(2),
      "capture RSS MB": on.maxRssMb.toFixed(0),
      "no capture RSS MB": off.maxRssMb.toFixed(0),
      "changes captured": changes,
    });
    rows.push(row(
      `${docs.toLocaleString("en-US")} docs, idle`,
      await pair(
        dumpOf(db, true),
        dumpOf(db, false),
      ),
    ));
    rows.push(row(
      `${tables} tables × 50 docs, idle`,
      await pair(
        dumpOf(many, true),
        dumpOf(many, false),
      ),
    ));

    // Paced writers: four connections, one update at a time each (soft durability, as a busy
    // application writes), spaced to `rate` per second in all.
    let writing = true;
    let written = 0;
    const writers = 4;
    const writer = Promise.all(Array.from({ length: writers }, async () => {
      const [host, port] = address.split(":");
      const client = await r.connect({ host, port: Number(port), silent: true });
      const started = performance.now();
      let mine = 0;
      while (writing) {
        const id = Math.floor(Math.random() * docs);
        await r.db(db).table("docs").get(id).update({ n: written }, { durability: "soft" })
          .run(client);
        written++;
        mine++;
        const wait = started + (mine * 1000 * writers) / rate - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      await client.close();
    }));
    const writerStarted = performance.now();
    let changes = 0;
    const onWithChanges = async () => {
      const usage = await dumpOf(db, true)();
      changes = await changesIn(archive);
      return usage;
    };
    const loaded = await pair(onWithChanges, dumpOf(db, false));
    writing = false;
    await writer;
    const achieved = written / ((performance.now() - writerStarted) / 1000);
    rows.push(row(
      `${docs.toLocaleString("en-US")} docs, writer at ${Math.round(achieved)} ops/s`,
      loaded,
      String(changes),
    ));
    return rows;
  } finally {
    await dropAll(address, [db, many]).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

/** The changes recorded in an archive's `.info` capture records. */
async function changesIn(archive: string): Promise<number> {
  const infos = await new Deno.Command("tar", {
    args: ["xzf", archive, "--wildcards", "*.info", "-O"],
    stdout: "piped",
  }).output();
  let total = 0;
  // Each `.info` is one JSON line.
  for (const line of new TextDecoder().decode(infos.stdout).split("\n")) {
    if (line.trim() !== "") total += JSON.parse(line).rethinkdb_backup?.capture?.changes ?? 0;
  }
  return total;
}

/**
 * Text of `bytes` characters: a 4 KB block of words repeated, like templated content. (Text
 * without repeats within deflate's 32 KB window is pathological for zlib's level 6: 40 MB/s here,
 * 5 MB/s for C gzip, which would measure the compressor, not the dump.)
 */
function prose(bytes: number, seed: number): string {
  const block = words(4096, seed);
  return block.repeat(Math.ceil(bytes / block.length)).slice(0, bytes);
}

function words(bytes: number, seed: number): string {
  const words = ["rethink", "table", "shard", "replica", "cursor", "batch", "index", "write"];
  const parts: string[] = [];
  let length = 0;
  let state = seed;
  while (length < bytes) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const word = words[state % words.length] + (state % 1000);
    parts.push(word);
    length += word.length + 1;
  }
  return parts.join(" ").slice(0, bytes);
}

/** 3 documents of 30 MB and 5,000 small ones: dump and restore wall and peak RSS. */
async function runBig(address: string): Promise<Record<string, string>> {
  const dir = await Deno.makeTempDir({ prefix: "rethinkdb-bench-" });
  const db = "bench_big";
  const dbs = [db, `${db}_restored`];
  const megabyte = 1 << 20;
  try {
    await dropAll(address, dbs);
    const conn = await open(address);
    await conn.createDatabase(db);
    await conn.createTable(db, "docs", { primaryKey: "id" });
    await conn.waitForTable(db, "docs");
    for (let i = 0; i < 5000; i += 1000) {
      const part = Array.from({ length: 1000 }, (_, k) => makeDoc(i + k));
      await conn.insertJson(db, "docs", JSON.stringify(part));
    }
    for (let i = 0; i < 3; i++) {
      const parts = Array.from({ length: 30 }, (_, k) => prose(megabyte, i * 100 + k));
      await conn.insertJson(db, "docs", JSON.stringify([{ id: `big${i}`, parts }]));
    }
    await conn.close();
    await settle(address, db, ["docs"]);
    const archive = `${dir}/big.tar.gz`;
    const { raw, dump } = await readAndDump(address, db, archive);
    const restore = await measure(
      deno([mod, "restore", archive, "-c", address, "-q", "--rename", `${db}=${db}_restored`]),
    );
    const largest = 30 * megabyte / 1e6;
    return {
      shape: "3 × 30 MB + 5,000 small docs",
      "raw read s": raw.wall.toFixed(2),
      "dump s": dump.wall.toFixed(2),
      "dump/raw read": (dump.wall / raw.wall).toFixed(2),
      "dump RSS MB": dump.maxRssMb.toFixed(0),
      "dump RSS target MB": (150 + 3 * largest).toFixed(0),
      "restore s": restore.wall.toFixed(2),
      "restore RSS MB": restore.maxRssMb.toFixed(0),
      "restore RSS target MB": (150 + 4 * largest).toFixed(0),
    };
  } finally {
    await dropAll(address, dbs).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

function table(rows: Record<string, string>[]): void {
  const columns = Object.keys(rows[0]);
  console.log(`| ${columns.join(" | ")} |`);
  console.log(`| ${columns.map(() => "---").join(" | ")} |`);
  for (const row of rows) console.log(`| ${columns.map((c) => row[c]).join(" | ")} |`);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      docs: { type: "string", multiple: true },
      server: { type: "string" },
      many: { type: "boolean" },
      tables: { type: "string", default: "100" },
      big: { type: "boolean" },
      capture: { type: "boolean" },
    },
  });
  // The real server's schema-change latency, modelled.
  const server = values.server === undefined
    ? await startServerProcess(["--table-create-ms", "270", "--index-wait-ms", "55"])
    : undefined;
  const address = values.server ?? server!.address;
  try {
    const rows = [];
    // The small shapes first: dropping the large tables keeps a server busy for a while.
    if (values.many) {
      console.error("bench: many small tables…");
      table([await runMany(address, Number(values.tables))]);
    }
    if (values.capture) {
      console.error("bench: change capture…");
      table(await runCapture(address, 100_000, 100, 1000));
    }
    if (values.big) {
      console.error("bench: large documents…");
      table([await runBig(address)]);
    }
    // `--docs 0` leaves the single-table shape out.
    for (const docs of (values.docs ?? ["100000", "1000000"]).map(Number).filter((n) => n > 0)) {
      console.error(`bench: ${docs} documents…`);
      rows.push(await run(address, docs));
    }
    if (rows.length > 0) table(rows);
  } finally {
    await server?.stop();
  }
}
