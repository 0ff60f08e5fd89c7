/**
 * `deno task bench [--docs N ...]`: dump and restore speed and memory against the test server
 * running in its own process, with baselines measured in the same run:
 *
 * - dump: client CPU seconds (user + sys of the `rethinkdb-backup dump` process) per 100 MB of
 *   JSON, as a ratio to gzip-compressing the same JSON bytes alone; peak RSS.
 * - restore: client CPU per 100 MB of archive JSON as a ratio to gunzip of the same archive
 *   alone; peak RSS; documents per second.
 *
 * Each measured command runs under `/usr/bin/time` (GNU time) for CPU and peak RSS.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { connect } from "../src/connection/driver.ts";
import { PERMISSION_FLAGS } from "../src/cli/permissions.ts";

const root = new URL("../", import.meta.url);
const decoder = new TextDecoder();

interface Usage {
  cpu: number;
  wall: number;
  maxRssMb: number;
}

/** Runs a command under GNU time; returns its CPU seconds, wall seconds and peak RSS. */
async function measure(cmd: string[]): Promise<Usage> {
  const started = performance.now();
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "BENCH %U %S %M", ...cmd],
    stdout: "null",
    stderr: "piped",
  }).output();
  const wall = (performance.now() - started) / 1000;
  const text = decoder.decode(out.stderr);
  const line = text.split("\n").find((l) => l.startsWith("BENCH "));
  if (!out.success || !line) throw new Error(`${cmd.join(" ")} failed:\n${text}`);
  const [, user, sys, rssKb] = line.split(" ");
  return { cpu: Number(user) + Number(sys), wall, maxRssMb: Number(rssKb) / 1024 };
}

function deno(args: string[]): string[] {
  return [Deno.execPath(), "run", ...PERMISSION_FLAGS, ...args];
}

/** A document of about 370 bytes of JSON, like the benchmark data. */
function makeDoc(i: number): Record<string, unknown> {
  return {
    id: i,
    name: `User ${i} ${"abcdefghij".repeat(3)}`,
    email: `user${i}@example.com`,
    score: (i * 7919) % 100000 / 7,
    active: i % 3 === 0,
    tags: ["alpha", "beta", `t${i % 17}`],
    joined: { $reql_type$: "TIME", epoch_time: 1600000000 + i, timezone: "+00:00" },
    address: { street: `${i} Main Street`, city: "Springfield", zip: String(10000 + (i % 89999)) },
    notes: "lorem ipsum dolor sit amet, consectetur adipiscing elit ".repeat(2),
  };
}

async function startServer(): Promise<{ address: string; stop: () => Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("tests/server/main.ts", root).pathname, "--port", "0"],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("test server exited");
    text += value;
  }
  reader.releaseLock();
  const address = text.match(/listening (\S+)/)![1];
  return {
    address,
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

async function seed(address: string, db: string, docs: number): Promise<void> {
  const [host, port] = address.split(":");
  const conn = await connect({ host, port: Number(port) });
  await conn.createDatabase(db);
  await conn.createTable(db, "docs", { primaryKey: "id" });
  const batch = 2000;
  for (let i = 0; i < docs; i += batch) {
    const part = Array.from({ length: Math.min(batch, docs - i) }, (_, k) => makeDoc(i + k));
    await conn.insertJson(db, "docs", JSON.stringify(part));
  }
  await conn.close();
}

async function run(docs: number, batchSizes: number[]): Promise<Record<string, string>> {
  const server = await startServer();
  const dir = await Deno.makeTempDir({ prefix: "rethinkdb-bench-" });
  try {
    const db = "bench";
    await seed(server.address, db, docs);
    const archive = `${dir}/dump.tar.gz`;
    const mod = new URL("mod.ts", root).pathname;
    const dump = await measure(
      deno([mod, "dump", "-c", server.address, "-e", db, "-f", archive, "-q"]),
    );

    // Baselines on the same bytes: the table's JSON, and the archive itself.
    const json = `${dir}/docs.json`;
    const extract = await new Deno.Command("tar", {
      args: ["xzf", archive, "-C", dir, "--wildcards", "*/docs.json", "--transform", "s|.*/|/|"],
    }).output();
    if (!extract.success) throw new Error("tar could not extract docs.json");
    const jsonBytes = (await Deno.stat(json)).size;
    const gzip = await measure(["gzip", "-6", "-c", json]);
    const gunzip = await measure(["gzip", "-d", "-c", archive]);

    // Restore into a fresh server process, so the data is not already there.
    await server.stop();
    const fresh = await startServer();
    let restore: Usage;
    try {
      restore = await measure(deno([mod, "restore", archive, "-c", fresh.address, "-q"]));
    } finally {
      await fresh.stop();
    }
    // Restore speed by --batch-size, each into a fresh server process.
    const sweep: Record<string, string> = {};
    for (const size of batchSizes) {
      const server = await startServer();
      try {
        const usage = await measure(
          deno([mod, "restore", archive, "-c", server.address, "-q", "--batch-size", String(size)]),
        );
        sweep[`restore docs/s @${size}`] = Math.round(docs / usage.wall).toLocaleString("en-US");
      } finally {
        await server.stop();
      }
    }
    const per100 = (cpu: number) => (cpu / jsonBytes) * 100e6;
    return {
      docs: docs.toLocaleString("en-US"),
      "JSON MB": (jsonBytes / 1e6).toFixed(1),
      "dump CPU s/100MB": per100(dump.cpu).toFixed(2),
      "gzip CPU s/100MB": per100(gzip.cpu).toFixed(2),
      "dump/gzip": (dump.cpu / gzip.cpu).toFixed(2),
      "dump RSS MB": dump.maxRssMb.toFixed(0),
      "dump docs/s": Math.round(docs / dump.wall).toLocaleString("en-US"),
      "restore CPU s/100MB": per100(restore.cpu).toFixed(2),
      "gunzip CPU s/100MB": per100(gunzip.cpu).toFixed(2),
      "restore/gunzip": (restore.cpu / Math.max(gunzip.cpu, 0.01)).toFixed(1),
      "restore RSS MB": restore.maxRssMb.toFixed(0),
      "restore docs/s": Math.round(docs / restore.wall).toLocaleString("en-US"),
      ...sweep,
    };
  } finally {
    await server.stop().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      docs: { type: "string", multiple: true },
      "batch-size": { type: "string", multiple: true },
    },
  });
  const sizes = (values.docs ?? ["100000", "1000000"]).map(Number);
  const rows = [];
  for (const docs of sizes) {
    console.error(`bench: ${docs} documents…`);
    rows.push(await run(docs, (values["batch-size"] ?? []).map(Number)));
  }
  const columns = Object.keys(rows[0]);
  console.log(`| ${columns.join(" | ")} |`);
  console.log(`| ${columns.map(() => "---").join(" | ")} |`);
  for (const row of rows) console.log(`| ${columns.map((c) => row[c]).join(" | ")} |`);
}
