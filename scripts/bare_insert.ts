/**
 * Benchmark baseline: the insert ceiling. Inserts the documents of a `.json` entry (the official
 * layout) into a new table with `r.json` batches of 1000 over 8 connections, one batch in flight
 * each — what any client must do, with none of the restore's planning, checks or progress.
 *
 * ```sh
 * deno run -A scripts/bare_insert.ts HOST:PORT DB TABLE FILE.json
 * ```
 *
 * Prints `bare-insert <documents>` on stdout.
 *
 * @module
 */

import { splitDocuments } from "../src/archive/documents.ts";
import { parseAddress } from "../src/connection/address.ts";
import { connect } from "../src/connection/driver.ts";

const [address, db, table, file] = Deno.args;
const server = { ...parseAddress(address), password: Deno.env.get("RETHINKDB_PASSWORD") ?? "" };
const connections = await Promise.all(Array.from({ length: 8 }, () => connect(server)));
const control = connections[0];
if (!(await control.listDatabases()).includes(db)) await control.createDatabase(db);
await control.createTable(db, table, { primaryKey: "id" });
await control.waitForTable(db, table);
const idle = [...connections];
const waiting: (() => void)[] = [];
const inFlight = new Set<Promise<void>>();
let documents = 0;
const batches = splitDocuments((await Deno.open(file)).readable, file, { batchDocuments: 1000 });
for await (const batch of batches) {
  while (idle.length === 0) await new Promise<void>((resolve) => waiting.push(resolve));
  const conn = idle.pop()!;
  const task = conn.insertJson(db, table, batch.text).then((result) => {
    if (result.errors > 0) throw new Error(result.first_error);
    documents += batch.count;
  }).finally(() => {
    idle.push(conn);
    waiting.shift()?.();
  });
  inFlight.add(task);
  task.finally(() => inFlight.delete(task)).catch(() => {});
}
await Promise.all(inFlight);
await Promise.all(connections.map((c) => c.close()));
console.log(`bare-insert ${documents}`);
