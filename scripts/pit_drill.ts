/**
 * `deno run -A scripts/pit_drill.ts --server HOST:PORT [--docs N] [--no-capture] [--restore]`:
 * is a dump of a live cluster one point in time?
 *
 * Three tables of N documents (default 60,000) are written to by a serial writer (inserts,
 * updates and deletes, each acknowledged before the next) while `dump` runs. The archive's
 * tables are then brought to their state (the `.json`, with the `.changes` replayed; with
 * `--restore`, by restoring the archive and reading the tables back) and compared with the
 * writer's log: each table must equal the source after some prefix of the writer's operations,
 * and the prefixes of the three tables must be at most 3 operations apart. `--no-capture` dumps
 * without change capture, for the figure the feature is measured against.
 *
 * Prints, per table, the prefixes it matches, the spread, and PASS or FAIL (exit 1). Not part
 * of `deno task test`: it is the real-server check of issue 19.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { r } from "npm:rethinkdb-ts@3.0.0";
import { ChangeLines, decodeChange } from "../src/archive/changes.ts";
import { parseEntryPath, readArchive } from "../src/archive/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    server: { type: "string", default: "127.0.0.1:28015" },
    docs: { type: "string", default: "60000" },
    "no-capture": { type: "boolean", default: false },
    restore: { type: "boolean", default: false },
  },
});
const [host, portText] = values.server!.split(":");
const port = Number(portText);
const docs = Number(values.docs);
const DB = "pit_drill";
const RESTORED = "pit_drill_restored";
const TABLES = ["a", "b", "c"];

type Op = { table: number; kind: "insert" | "update" | "delete"; id: number; v: number };

const conn = await r.connect({ host, port });
await r.dbList().contains(DB).branch(r.dbDrop(DB), null).run(conn);
await r.dbList().contains(RESTORED).branch(r.dbDrop(RESTORED), null).run(conn);
await r.dbCreate(DB).run(conn);
for (const t of TABLES) await r.db(DB).tableCreate(t).run(conn);
const pad = "x".repeat(200);
for (const t of TABLES) {
  for (let from = 0; from < docs; from += 5000) {
    const batch = [];
    for (let id = from; id < Math.min(docs, from + 5000); id++) batch.push({ id, v: -1, pad });
    await r.db(DB).table(t).insert(batch, { durability: "soft" }).run(conn);
  }
  await r.db(DB).table(t).sync().run(conn);
}
console.log(`seeded ${TABLES.length} tables of ${docs} documents`);

// The serial writer: one operation at a time, each acknowledged before the next.
const live = TABLES.map(() => new Set(Array.from({ length: docs }, (_, i) => i)));
const nextId = TABLES.map(() => docs);
const log: Op[] = [];
let writing = true;
let seed = 42;
const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const pick = (table: number) => {
  const set = live[table];
  // Ids are dense enough that a few tries find a live one.
  while (true) {
    const id = Math.floor(random() * nextId[table]);
    if (set.has(id)) return id;
  }
};
const writer = (async () => {
  const wconn = await r.connect({ host, port });
  while (writing) {
    const table = Math.floor(random() * 3);
    const roll = random();
    const v = log.length;
    const t = r.db(DB).table(TABLES[table]);
    let op: Op;
    if (roll < 0.3) {
      const id = nextId[table]++;
      await t.insert({ id, v, pad }).run(wconn);
      live[table].add(id);
      op = { table, kind: "insert", id, v };
    } else if (roll < 0.7) {
      const id = pick(table);
      await t.get(id).update({ v }).run(wconn);
      op = { table, kind: "update", id, v };
    } else {
      const id = pick(table);
      await t.get(id).delete().run(wconn);
      live[table].delete(id);
      op = { table, kind: "delete", id, v };
    }
    log.push(op);
  }
  await wconn.close();
})();

// Let the writer run a moment, then dump while it goes on.
await new Promise((resolve) => setTimeout(resolve, 300));
const file = await Deno.makeTempFile({ suffix: ".tar.gz" });
const mod = new URL("../mod.ts", import.meta.url).pathname;
const dumpArgs = ["run", "-A", mod, "dump", "-c", values.server!, "-e", DB, "-f", file];
dumpArgs.push("--overwrite-file", "--clients", "1", "-q");
if (values["no-capture"]) dumpArgs.push("--no-capture");
const opsBefore = log.length;
const dumped = await new Deno.Command("deno", { args: dumpArgs, stderr: "inherit" }).output();
const opsDuring = log.length - opsBefore;
writing = false;
await writer;
if (!dumped.success) {
  console.log(`FAIL: dump exited ${dumped.code}`);
  Deno.exit(1);
}
console.log(`writer: ${log.length} operations, ${opsDuring} while the dump ran`);

// Each table's state as the archive (or the restore) gives it: id → v.
const states: Map<number, number>[] = TABLES.map(() => new Map());
if (values.restore) {
  const restoreArgs = ["run", "-A", mod, "restore", "-c", values.server!, file, "-q"];
  restoreArgs.push("--rename", `${DB}=${RESTORED}`);
  const restored = await new Deno.Command("deno", { args: restoreArgs, stderr: "inherit" })
    .output();
  if (!restored.success) {
    console.log(`FAIL: restore exited ${restored.code}`);
    Deno.exit(1);
  }
  for (const [i, t] of TABLES.entries()) {
    const rows = await r.db(RESTORED).table(t).pluck("id", "v").run(conn) as {
      id: number;
      v: number;
    }[];
    for (const row of rows) states[i].set(row.id, row.v);
  }
} else {
  const source = (await Deno.open(file)).readable;
  const decoder = new TextDecoder();
  for await (const entry of readArchive(source)) {
    const path = parseEntryPath(entry.path);
    const table = path ? TABLES.indexOf(path.table) : -1;
    if (!path || table < 0 || (path.ext !== "json" && path.ext !== "changes")) {
      await entry.body.cancel();
      continue;
    }
    const bytes = new Uint8Array(await new Response(entry.body).arrayBuffer());
    if (path.ext === "json") {
      for (const doc of JSON.parse(decoder.decode(bytes))) states[table].set(doc.id, doc.v);
    } else {
      const lines = new ChangeLines();
      lines.push(bytes, (line) => {
        const change = decodeChange(line);
        const id = JSON.parse(decoder.decode(change.key));
        if (change.newVal === null) states[table].delete(id);
        else states[table].set(id, JSON.parse(decoder.decode(change.newVal)).v);
      });
      lines.finish();
    }
  }
}
await Deno.remove(file);

// For each table, the prefixes of the log whose state it equals: a running count of the keys
// where the simulated table differs from the dumped one, updated in O(1) per operation.
const matches: [number, number][][] = [];
for (const [i, name] of TABLES.entries()) {
  const target = states[i];
  const sim = new Map<number, number>();
  for (let id = 0; id < docs; id++) sim.set(id, -1);
  const differs = (id: number) => sim.get(id) !== target.get(id);
  let mismatched = 0;
  for (const id of new Set([...sim.keys(), ...target.keys()])) if (differs(id)) mismatched++;
  const ranges: [number, number][] = [];
  const note = (prefix: number) => {
    if (mismatched !== 0) return;
    const last = ranges[ranges.length - 1];
    if (last && last[1] === prefix - 1) last[1] = prefix;
    else ranges.push([prefix, prefix]);
  };
  note(0);
  for (const [k, op] of log.entries()) {
    if (op.table === i) {
      const before = differs(op.id);
      if (op.kind === "delete") sim.delete(op.id);
      else sim.set(op.id, op.v);
      const after = differs(op.id);
      mismatched += Number(after) - Number(before);
    }
    note(k + 1);
  }
  matches.push(ranges);
  const shown = ranges.length === 0
    ? "no prefix"
    : ranges.map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`)).join(", ");
  console.log(`table ${name}: ${target.size} documents; equals the source after ${shown}`);
}

// The smallest spread: one prefix per table, as close together as they can be.
let spread = Infinity;
if (matches.every((ranges) => ranges.length > 0)) {
  const candidates = matches.flat().flatMap(([a, b]) => [a, b]);
  for (const low of candidates) {
    // Each table's nearest prefix at or above `low`.
    let high = low;
    let ok = true;
    for (const ranges of matches) {
      const hit = ranges.find(([, b]) => b >= low);
      if (!hit) {
        ok = false;
        break;
      }
      high = Math.max(high, Math.max(hit[0], low));
    }
    if (ok) spread = Math.min(spread, high - low);
  }
}
const pass = Number.isFinite(spread) && spread <= 3;
console.log(
  `${pass ? "PASS" : "FAIL"}: ${
    Number.isFinite(spread)
      ? `the tables are ${spread} operations apart`
      : "a table matches no prefix"
  } (capture ${values["no-capture"] ? "off" : "on"})`,
);
await r.dbDrop(DB).run(conn);
if (values.restore) await r.dbDrop(RESTORED).run(conn);
await conn.close();
Deno.exit(pass ? 0 : 1);
