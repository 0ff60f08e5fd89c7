/**
 * What `--trace` costs: a dump of a 100,000-document table (about 37 MB of JSON) from the test
 * server, run in its own process, with and without `--trace FILE`, alternating (off, on, on,
 * off, …) so that a server warming up or a neighbour's load falls on both; each run under GNU
 * time for CPU. Then the cost of one traced query in isolation: `sent` and `answered` of a
 * connection's trace, a line each, through the buffer into a file.
 *
 * ```sh
 * deno run -A scripts/trace_cost.ts [--docs 100000] [--rounds 4] [--restore]
 * ```
 *
 * `--restore` also restores the archive (100 insert queries of 1000 documents) both ways.
 * Prints the median wall and CPU seconds of each and the ratios.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { connect } from "../src/connection/driver.ts";
import { orderBy, table } from "../src/connection/reql.ts";
import { Tracer } from "../src/connection/trace.ts";
import { PERMISSION_FLAGS } from "../src/cli/permissions.ts";
import {
  makeDoc,
  measure as measureCommand,
  startServerProcess,
  type Usage,
} from "./bench_support.ts";

/** One run of the tool with `args`, under GNU time. */
function measure(args: string[]) {
  return measureCommand([Deno.execPath(), "run", ...PERMISSION_FLAGS, mod, ...args]);
}

const root = new URL("../", import.meta.url);
const mod = new URL("mod.ts", root).pathname;

async function seed(address: string, docs: number): Promise<void> {
  const [host, port] = address.split(":");
  const conn = await connect({ host, port: Number(port) });
  await conn.createDatabase("cost");
  await conn.createTable("cost", "docs", { primaryKey: "id" });
  for (let i = 0; i < docs; i += 2000) {
    const part = Array.from({ length: Math.min(2000, docs - i) }, (_, k) => makeDoc(i + k));
    await conn.insertJson("cost", "docs", JSON.stringify(part));
  }
  await conn.close();
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs `run(traced)` off, on, on, off, … `rounds` times each; medians of each side. */
async function alternate(
  rounds: number,
  run: (traced: boolean, i: number) => Promise<Usage>,
): Promise<{ off: Usage; on: Usage; offAll: Usage[]; onAll: Usage[] }> {
  const off: Usage[] = [];
  const on: Usage[] = [];
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? [false, true] : [true, false];
    for (const traced of order) (traced ? on : off).push(await run(traced, i));
  }
  const med = (u: Usage[]) => ({
    wall: median(u.map((x) => x.wall)),
    cpu: median(u.map((x) => x.cpu)),
    maxRssMb: median(u.map((x) => x.maxRssMb)),
  });
  return { off: med(off), on: med(on), offAll: off, onAll: on };
}

function report(name: string, r: Awaited<ReturnType<typeof alternate>>): void {
  const s = (u: Usage[]) => u.map((x) => `${x.wall.toFixed(2)}/${x.cpu.toFixed(2)}`).join(" ");
  console.log(`${name} without --trace (wall/cpu s): ${s(r.offAll)}`);
  console.log(`${name} with --trace    (wall/cpu s): ${s(r.onAll)}`);
  console.log(
    `${name} median wall ${r.off.wall.toFixed(2)}s → ${r.on.wall.toFixed(2)}s (×${
      (r.on.wall / r.off.wall).toFixed(3)
    }), cpu ${r.off.cpu.toFixed(2)}s → ${r.on.cpu.toFixed(2)}s (×${
      (r.on.cpu / r.off.cpu).toFixed(3)
    })`,
  );
}

/** One traced query in isolation: µs per START+answer pair through the buffer to a file. */
async function perQuery(dir: string): Promise<number> {
  const tracer = await Tracer.open(`${dir}/micro.jsonl`);
  const trace = tracer.openConnection("127.0.0.1:28015");
  const term = orderBy(table("cost", "docs"), "id");
  const frame = [new Uint8Array(80)];
  const body = new TextEncoder().encode(`{"t":2,"r":[],"n":[]}`);
  const n = 200_000;
  for (let i = 0; i < 1000; i++) {
    trace.sent(i, 1, term, frame);
    trace.answered(i, body);
    trace.finished(i);
  }
  const started = performance.now();
  for (let token = 1000; token < 1000 + n; token++) {
    trace.sent(token, 1, term, frame);
    trace.answered(token, body);
    trace.finished(token);
    // Gives the writer its turns, as a real run's awaits do.
    if (token % 10_000 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
  }
  await tracer.close();
  return (performance.now() - started) * 1000 / n;
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    docs: { type: "string", default: "100000" },
    rounds: { type: "string", default: "4" },
    restore: { type: "boolean" },
  },
});
const docs = Number(values.docs);
const rounds = Number(values.rounds);
const dir = await Deno.makeTempDir({ prefix: "rethinkdb-trace-cost-" });
const server = await startServerProcess();
try {
  await seed(server.address, docs);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const archive = `${dir}/a.tar.gz`;
  const traceArgs = (traced: boolean, name: string) =>
    traced ? ["--trace", `${dir}/${name}.jsonl`] : [];
  const dumps = await alternate(rounds, (traced) =>
    measure([
      "dump",
      ...["-c", server.address, "-e", "cost", "-f", archive, "-q", "--overwrite-file"],
      ...traceArgs(traced, "dump"),
    ]));
  const lines = (await Deno.readTextFile(`${dir}/dump.jsonl`)).trimEnd().split("\n").length;
  console.log(`${docs} documents; a traced dump writes ${lines} lines`);
  report("dump", dumps);
  if (values.restore) {
    const restores = await alternate(rounds, (traced, i) =>
      measure([
        "restore",
        archive,
        ...["-c", server.address, "-q", "--rename", `cost=cost_${traced ? "t" : "n"}${i}`],
        ...traceArgs(traced, "restore"),
      ]));
    const restoreLines = (await Deno.readTextFile(`${dir}/restore.jsonl`)).trimEnd().split("\n")
      .length;
    console.log(`a traced restore writes ${restoreLines} lines`);
    report("restore", restores);
  }
  console.log(
    `one traced query (START and its answer, two timestamps, one line): ${
      (await perQuery(dir)).toFixed(2)
    } µs`,
  );
} finally {
  await server.stop();
  await Deno.remove(dir, { recursive: true });
}
