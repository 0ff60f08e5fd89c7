/**
 * `deno run -A scripts/probe.ts --server HOST:PORT --table DB.TABLE [--official CMD]
 * [--run NAME=ARGS ...]`: what a dump costs the application sharing the cluster. A live client
 * reads random documents by primary key, one after another, while nothing else runs (idle), then
 * while each dump runs; it prints each phase's point-read latency (p50, p99) and each dump's wall
 * time, all from the same run.
 *
 * - `--official CMD`: the official tool's command (e.g. `/path/rethinkdb-official`, run as
 *   `CMD dump -c HOST:PORT -e DB.TABLE -f FILE`), measured as a phase of its own.
 * - `--run NAME=ARGS`: a phase dumping with this tool and extra arguments, e.g.
 *   `--run default=` `--run backoff=--backoff` `--run rate=--max-rate 20MB/s` (repeatable).
 *
 * The table's primary keys must be the integers 0…N-1 (`--keys N`, default the table's count).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { r } from "npm:rethinkdb-ts@3.0.0";
import { PERMISSION_FLAGS } from "../src/cli/permissions.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    server: { type: "string" },
    table: { type: "string" },
    official: { type: "string" },
    run: { type: "string", multiple: true },
    keys: { type: "string" },
    "idle-seconds": { type: "string", default: "5" },
  },
});
if (!values.server || !values.table) {
  console.error("probe: --server HOST:PORT and --table DB.TABLE are required");
  Deno.exit(2);
}
const [host, port] = values.server.split(":");
const [db, table] = values.table.split(".");
const mod = new URL("../mod.ts", import.meta.url).pathname;

const conn = await r.connect({ host, port: Number(port), silent: true });
const keys = Number(values.keys ?? await r.db(db).table(table).count().run(conn));

/** Point reads one after another until `until` resolves; returns their latencies in ms. */
async function probe(until: Promise<unknown>): Promise<number[]> {
  let done = false;
  until.finally(() => (done = true));
  const latencies: number[] = [];
  while (!done) {
    const key = Math.floor(Math.random() * keys);
    const started = performance.now();
    await r.db(db).table(table).get(key).run(conn);
    latencies.push(performance.now() - started);
  }
  return latencies;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function phase(name: string, cmd: string[] | undefined): Promise<Record<string, string>> {
  const dir = await Deno.makeTempDir({ prefix: "rethinkdb-probe-" });
  try {
    const started = performance.now();
    const running = cmd === undefined
      ? new Promise((resolve) => setTimeout(resolve, Number(values["idle-seconds"]) * 1000))
      : new Deno.Command(cmd[0], {
        args: [...cmd.slice(1), "-f", `${dir}/dump.tar.gz`],
        stdout: "null",
        stderr: "piped",
      }).output().then((out) => {
        if (!out.success) {
          throw new Error(`${name}: ${new TextDecoder().decode(out.stderr).trim()}`);
        }
      });
    const latencies = (await probe(running)).sort((a, b) => a - b);
    await running;
    const slow = latencies.filter((latency) => latency > 1).length;
    const wall = (performance.now() - started) / 1000;
    return {
      phase: name,
      reads: String(latencies.length),
      "p50 ms": percentile(latencies, 0.5).toFixed(2),
      "p99 ms": percentile(latencies, 0.99).toFixed(2),
      // The server serves a read's batch in slices that do not yield to point reads: how many
      // reads such slices hold up barely depends on the dump's pace, so their share (what the
      // p99 shows) falls as the phase grows longer (README, Gentle on a production cluster).
      "reads > 1 ms": `${slow} (${(100 * slow / latencies.length).toFixed(2)}%)`,
      "dump s": cmd === undefined ? "" : wall.toFixed(2),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const address = `${host}:${port}`;
const rows = [await phase("idle", undefined)];
if (values.official) {
  const official = values.official.split(" ");
  rows.push(await phase("official dump", [...official, "dump", "-c", address, "-e", values.table]));
}
for (const spec of values.run ?? ["default="]) {
  const eq = spec.indexOf("=");
  const extra = spec.slice(eq + 1).split(" ").filter((a) => a !== "");
  rows.push(
    await phase(`dump ${spec.slice(0, eq)}`, [
      Deno.execPath(),
      "run",
      ...PERMISSION_FLAGS,
      mod,
      "dump",
      "-c",
      address,
      "-e",
      values.table,
      "-q",
      ...extra,
    ]),
  );
}
await conn.close();
const columns = Object.keys(rows[0]);
console.log(`| ${columns.join(" | ")} |`);
console.log(`| ${columns.map(() => "---").join(" | ")} |`);
for (const row of rows) console.log(`| ${columns.map((c) => row[c]).join(" | ")} |`);
