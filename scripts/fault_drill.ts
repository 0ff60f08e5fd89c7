/**
 * `deno run -A scripts/fault_drill.ts --rethinkdb PATH [--docs N] [--tables N]`: the faults an
 * operator meets, against a real RethinkDB server that this script starts (in a temporary
 * directory, on ports of its own) and kills:
 *
 * 1. **dump, server killed**: a dump of an N-document table (default 300,000); 1 s in, the
 *    server is killed (SIGKILL) and started again at once. The dump must exit 0 with every
 *    document in the archive exactly once.
 * 2. **restore, server killed**: that archive restored under another name; 3 s in, the server is
 *    killed and started again. The restore must exit 0, and the table must equal the source.
 * 3. **restore through a cutting proxy**: a dump of `--tables` small tables (default 100, 50
 *    documents each, a third with a secondary index) restored through a TCP proxy that cuts one,
 *    then three, connections after 20 KB. Each restore must exit 0 with every table equal to
 *    its source.
 *
 * Prints one line per drill and exits 1 if any failed. Not part of `deno task test`: it needs a
 * RethinkDB binary (none can be installed on the build machines).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { r } from "npm:rethinkdb-ts@3.0.0";
import { PERMISSION_FLAGS } from "../src/cli/permissions.ts";
import { startCuttingProxy } from "../tests/support/proxy.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rethinkdb: { type: "string" },
    docs: { type: "string", default: "300000" },
    tables: { type: "string", default: "100" },
    port: { type: "string", default: "28150" },
  },
});
if (!values.rethinkdb) {
  console.error("fault_drill: --rethinkdb PATH (a RethinkDB 2.4 server binary) is required");
  Deno.exit(2);
}
const binary = values.rethinkdb;
const DOCS = Number(values.docs);
const TABLES = Number(values.tables);
const PORT = Number(values.port);
const mod = new URL("../mod.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

/** A RethinkDB server process on a data directory that outlives its restarts. */
class Server {
  #child: Deno.ChildProcess | undefined;
  constructor(readonly dir: string) {}

  async start(): Promise<void> {
    this.#child = new Deno.Command(binary, {
      args: [
        "--directory",
        this.dir,
        "--driver-port",
        String(PORT),
        "--cluster-port",
        String(PORT + 1000),
        "--no-http-admin",
        "--bind",
        "127.0.0.1",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    for (let i = 0; i < 300; i++) {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port: PORT })).close();
        return;
      } catch {
        await sleep(100);
      }
    }
    throw new Error("the server did not start listening");
  }

  /** SIGKILL, then a new process on the same data, at once. */
  async killAndRestart(): Promise<void> {
    this.#child!.kill("SIGKILL");
    await this.#child!.status;
    await this.start();
  }

  async stop(): Promise<void> {
    this.#child?.kill("SIGTERM");
    await this.#child?.status;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function client(port = PORT) {
  return await r.connect({ host: "127.0.0.1", port, silent: true });
}

/** Runs the tool; resolves with its exit code and stderr. */
function tool(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSION_FLAGS, mod, ...args],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  return child.output().then((out) => ({ code: out.code, stderr: decoder.decode(out.stderr) }));
}

/** A table's documents in primary-key order, as JSON text, for comparisons. */
async function contents(db: string, table: string, port = PORT): Promise<string> {
  const conn = await client(port);
  try {
    const docs = await r.db(db).table(table).orderBy({ index: "id" }).run(conn);
    return JSON.stringify(docs);
  } finally {
    await conn.close();
  }
}

async function seedLarge(db: string): Promise<void> {
  const conn = await client();
  await r.dbCreate(db).run(conn);
  await r.db(db).tableCreate("t").run(conn);
  for (let i = 0; i < DOCS; i += 5000) {
    const part = Array.from({ length: Math.min(5000, DOCS - i) }, (_, k) => ({
      id: i + k,
      name: `user ${i + k}`,
      bio: "x".repeat(300),
      n: (i + k) * 0.5,
    }));
    await r.db(db).table("t").insert(part).run(conn);
  }
  await r.db(db).table("t").sync().run(conn);
  await conn.close();
}

async function seedMany(db: string): Promise<void> {
  const conn = await client();
  await r.dbCreate(db).run(conn);
  const names = Array.from({ length: TABLES }, (_, i) => `t${String(i).padStart(4, "0")}`);
  await Promise.all(names.map((name) => r.db(db).tableCreate(name).run(conn)));
  await Promise.all(names.map(async (name, i) => {
    const docs = Array.from({ length: 50 }, (_, k) => ({ id: k, v: `${name}-${k}` }));
    await r.db(db).table(name).insert(docs).run(conn);
    if (i % 3 === 0) {
      await r.db(db).table(name).indexCreate("v").run(conn);
      await r.db(db).table(name).indexWait().run(conn);
    }
    await r.db(db).table(name).sync().run(conn);
  }));
  await conn.close();
}

/** The document ids of an archive's table, checked to be 0…n-1 exactly once each. */
async function archivedIds(archive: string): Promise<string | undefined> {
  const { readArchive } = await import("../src/archive/tar_reader.ts");
  const file = await Deno.open(archive);
  const seen = new Uint8Array(DOCS);
  let count = 0;
  for await (const entry of readArchive(file.readable)) {
    if (!entry.path.endsWith("/t.json")) {
      await entry.body.cancel();
      continue;
    }
    const docs = JSON.parse(await new Response(entry.body).text()) as { id: number }[];
    for (const { id } of docs) {
      if (seen[id]) return `document ${id} is in the archive twice`;
      seen[id] = 1;
      count++;
    }
  }
  return count === DOCS ? undefined : `${count} of ${DOCS} documents in the archive`;
}

const results: string[] = [];
let failed = false;
function report(name: string, problem: string | undefined, detail: string): void {
  failed ||= problem !== undefined;
  results.push(`${problem === undefined ? "PASS" : "FAIL"} ${name}: ${problem ?? detail}`);
  console.log(results.at(-1));
}

const dir = await Deno.makeTempDir({ prefix: "rethinkdb-drill-" });
const server = new Server(`${dir}/data`);
await server.start();
try {
  const address = `127.0.0.1:${PORT}`;
  await seedLarge("drill");
  const archive = `${dir}/drill.tar.gz`;

  // 1. A dump with the server killed and restarted 1 s in.
  let started = performance.now();
  const dumping = tool(["dump", "-c", address, "-e", "drill", "-f", archive, "-q"]);
  await sleep(1000);
  await server.killAndRestart();
  const dumped = await dumping;
  const dumpProblem = dumped.code !== 0
    ? `exit ${dumped.code}: ${dumped.stderr.trim().split("\n").at(-1)}`
    : await archivedIds(archive);
  report(
    "dump, server killed 1 s in",
    dumpProblem,
    `exit 0, all ${DOCS} documents exactly once (${
      ((performance.now() - started) / 1000).toFixed(1)
    } s)`,
  );

  // 2. Its restore, with the server killed and restarted 3 s in.
  if (dumped.code === 0) {
    started = performance.now();
    const restoring = tool(["restore", archive, "-c", address, "--rename", "drill=drill_copy"]);
    await sleep(3000);
    await server.killAndRestart();
    const restored = await restoring;
    let problem: string | undefined;
    if (restored.code !== 0) {
      problem = `exit ${restored.code}: ${restored.stderr.trim().split("\n").at(-1)}`;
    } else if (await contents("drill_copy", "t") !== await contents("drill", "t")) {
      problem = "the restored table differs from the source";
    }
    const summary = restored.stderr.trim().split("\n").at(-1);
    report(
      "restore, server killed 3 s in",
      problem,
      `exit 0, the table equals the source (${
        ((performance.now() - started) / 1000).toFixed(1)
      } s; ${summary})`,
    );
  }

  // 3. Many tables restored through a proxy that cuts connections after 20 KB.
  await seedMany("many");
  const manyArchive = `${dir}/many.tar.gz`;
  const manyDump = await tool(["dump", "-c", address, "-e", "many", "-f", manyArchive, "-q"]);
  if (manyDump.code !== 0) throw new Error(`dump of many tables failed: ${manyDump.stderr}`);
  for (const cuts of [1, 3]) {
    const copy = `many_cut${cuts}`;
    const proxy = await startCuttingProxy({
      target: { host: "127.0.0.1", port: PORT },
      cuts: Array.from({ length: cuts }, (_, i) => ({ connection: 2 + 2 * i, afterBytes: 20_000 })),
    });
    const restored = await tool([
      "restore",
      manyArchive,
      "-c",
      `${proxy.host}:${proxy.port}`,
      "--rename",
      `many=${copy}`,
      "-q",
    ]);
    await proxy.close();
    let problem: string | undefined;
    if (restored.code !== 0) {
      problem = `exit ${restored.code}: ${restored.stderr.trim().split("\n").at(-1)}`;
    } else {
      for (let i = 0; i < TABLES && problem === undefined; i++) {
        const name = `t${String(i).padStart(4, "0")}`;
        if (await contents(copy, name) !== await contents("many", name)) {
          problem = `${copy}.${name} differs from its source`;
        }
      }
    }
    report(
      `restore of ${TABLES} tables, proxy cutting ${cuts} connection${
        cuts > 1 ? "s" : ""
      } after 20 KB`,
      problem,
      `exit 0, every table equal to its source (${proxy.cut.length} cut)`,
    );
  }
} finally {
  await server.stop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
Deno.exit(failed ? 1 : 0);
