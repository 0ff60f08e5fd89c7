/**
 * `--trace FILE`: a dump and a restore against the in-process test server write one valid JSON
 * line per query the server received (compared with the server's own record), per connection
 * opened and closed, and per retry and wait; never a password or a document value. The CLI
 * writes the file, refuses one it cannot create before connecting, and completes it when
 * interrupted.
 */
import assert from "node:assert/strict";
import { main } from "../src/cli/main.ts";
// The library entry's way to a tracer, for the restore below.
import { openTrace } from "../mod.ts";
import type { CommandContext } from "../src/cli/context.ts";
import { connect } from "../src/connection/driver.ts";
import { queryTarget } from "../src/connection/reql.ts";
import * as q from "../src/connection/reql.ts";
import { MAX_BUFFERED_CHARS, redact, Tracer } from "../src/connection/trace.ts";
import { dump } from "../src/dump/run.ts";
import { InterruptedError } from "../src/errors.ts";
import { restore } from "../src/restore/run.ts";
import type { QueryRecord } from "./server/mod.ts";
import { TermType } from "./server/reql/proto.ts";
import { inProcessTarget, type TestTarget } from "./support/target.ts";

const PASSWORD = "pw-Tr4ce-s3cret";
/** In every document, so that any document content in the trace is found. */
const MARK = "doc-content-7f3a";

interface Line {
  kind: string;
  at: string;
  [key: string]: unknown;
}

const QUERY_NAMES: Record<number, string> = { 1: "START", 2: "CONTINUE", 3: "STOP" };

async function readTrace(path: string): Promise<{ text: string; lines: Line[] }> {
  const text = await Deno.readTextFile(path);
  assert.ok(text.endsWith("\n"), "the file ends with a whole line");
  const lines = text.trimEnd().split("\n").map((line, i) => {
    try {
      return JSON.parse(line) as Line;
    } catch {
      throw new Error(`line ${i + 1} is not JSON: ${line}`);
    }
  });
  return { text, lines };
}

/** Checks every line's fields and the secrets' absence. */
function checkLines(text: string, lines: Line[]): void {
  assert.ok(!text.includes(PASSWORD), "no password");
  assert.ok(!text.includes(MARK), "no document content");
  assert.ok(!/scram|client-final|n,,n=/i.test(text), "no handshake message");
  for (const line of lines) {
    assert.match(line.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, `ISO time: ${line.at}`);
    if (line.kind !== "query") continue;
    assert.equal(typeof line.conn, "number");
    assert.equal(typeof line.token, "number");
    assert.match(String(line.query), /^(START|CONTINUE|STOP)$/);
    assert.match(String(line.term), /^[A-Z_]+$/);
    assert.equal(typeof line.sentBytes, "number");
    assert.ok((line.sentBytes as number) >= 12 + 3, "a frame: header and body");
    if (line.t === "none") {
      assert.equal(line.answered, undefined);
      continue;
    }
    assert.match(
      String(line.t),
      /^(atom|sequence|partial|client_error|compile_error|runtime_error)$/,
    );
    assert.match(String(line.answered), /Z$/);
    assert.ok(Date.parse(String(line.answered)) >= Date.parse(line.at), "answered after sent");
    assert.equal(typeof line.ms, "number");
    assert.ok((line.receivedBytes as number) >= 12 + 10);
    if (String(line.t).endsWith("_error")) assert.equal(typeof line.error, "string");
  }
}

/**
 * Every query the server received is a line: the same (query type, token) pairs, START's root
 * term the same, per connection (connections are matched by their sequence of tokens' terms).
 */
function assertSameQueries(records: QueryRecord[], lines: Line[]): void {
  const server = records.map((r) =>
    `${QUERY_NAMES[r.query[0] as number]} ${r.token} ${
      r.query[0] === 1 ? termNameOf((r.query[1] as unknown[])[0] as number) : ""
    }`
  ).sort();
  const traced = lines.filter((l) => l.kind === "query").map((l) =>
    `${l.query} ${l.token} ${l.query === "START" ? l.term : ""}`
  ).sort();
  assert.deepEqual(traced, server);
}

function termNameOf(type: number): string {
  return Object.entries(TermType).find(([, n]) => n === type)![0];
}

async function seed(target: TestTarget, db: string, docs: number): Promise<void> {
  const conn = await connect({ host: target.host, port: target.port, password: PASSWORD });
  try {
    await conn.createDatabase(db);
    await conn.createTable(db, "items", { primaryKey: "id" });
    const all = Array.from({ length: docs }, (_, i) => ({
      id: i,
      value: `${MARK}-${i}`,
      pad: "p".repeat(300),
    }));
    await conn.insertJson(db, "items", JSON.stringify(all));
  } finally {
    await conn.close();
  }
}

function connectTo(target: TestTarget, tracer?: Tracer) {
  return { host: target.host, port: target.port, password: PASSWORD, tracer };
}

Deno.test("trace: a dump's and a restore's lines match the queries the server received, without secrets", async () => {
  const target = await inProcessTarget({ password: PASSWORD, recordQueries: true });
  const dir = await Deno.makeTempDir();
  try {
    await seed(target, "src", 5000);
    const server = target.server!;
    server.queries.length = 0;

    const dumpTrace = `${dir}/dump.jsonl`;
    const tracer = await Tracer.open(dumpTrace);
    const archive = `${dir}/a.tar.gz`;
    await dump({
      connect: connectTo(target, tracer),
      file: archive,
      exports: ["src"],
      progress: { quiet: true },
    });
    await tracer.close();
    const dumped = await readTrace(dumpTrace);
    checkLines(dumped.text, dumped.lines);
    assertSameQueries(server.queries, dumped.lines);
    const queries = dumped.lines.filter((l) => l.kind === "query");
    const read = queries.filter((l) => l.term === "ORDER_BY");
    assert.equal(read[0].query, "START");
    assert.equal(read[0].table, "src.items");
    assert.equal(read[0].t, "partial");
    assert.ok(read.filter((l) => l.query === "CONTINUE").length >= 1, "CONTINUEs of the read");
    assert.equal(read.at(-1)!.t, "sequence");
    // 5000 documents of over 300 bytes came back in the read's answers.
    assert.ok(read.reduce((n, l) => n + (l.receivedBytes as number), 0) > 5000 * 300);
    assert.ok(queries.some((l) => l.term === "INFO" && l.table === "src.items"));
    assert.ok(queries.some((l) => l.term === "PLUCK" && l.table === "rethinkdb.table_config"));
    const opened = dumped.lines.filter((l) => l.kind === "open");
    const closed = dumped.lines.filter((l) => l.kind === "close");
    assert.ok(opened.length >= 1);
    assert.deepEqual(closed.map((l) => l.conn).sort(), opened.map((l) => l.conn).sort());
    assert.equal(opened[0].server, `${target.host}:${target.port}`);

    server.queries.length = 0;
    const restoreTrace = `${dir}/restore.jsonl`;
    const restoreTracer = await openTrace(restoreTrace);
    await restore({
      connect: connectTo(target, restoreTracer),
      archive,
      renames: ["src=dst"],
      batchSize: 1000,
      progress: { quiet: true },
    });
    await restoreTracer.close();
    const restored = await readTrace(restoreTrace);
    checkLines(restored.text, restored.lines);
    assertSameQueries(server.queries, restored.lines);
    const writes = restored.lines.filter((l) => l.kind === "query");
    const inserts = writes.filter((l) => l.term === "INSERT");
    assert.equal(inserts.length, 5, "5000 documents in batches of 1000");
    for (const insert of inserts) {
      assert.equal(insert.table, "dst.items");
      assert.equal(insert.t, "atom");
      assert.ok((insert.sentBytes as number) > 1000 * 300, "the batch's bytes are counted");
    }
    assert.ok(writes.some((l) => l.term === "TABLE_CREATE" && l.table === "dst.items"));
    assert.ok(writes.some((l) => l.term === "DB_CREATE" && l.db === "dst"));
    assert.ok(writes.some((l) => l.term === "WAIT" && l.table === "dst.items"));
  } finally {
    await target.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trace: a dropped connection, a reconnect and a wait for an unavailable table are lines", async () => {
  const target = await inProcessTarget({ password: PASSWORD, recordQueries: true });
  const dir = await Deno.makeTempDir();
  try {
    await seed(target, "src", 5000);
    const server = target.server!;
    server.queries.length = 0;
    server.faults.closeAfterDocuments(1500);
    // Then, on the new connection, the read is refused once as after a restart.
    server.faults.failQuery(
      (query) => query.termType === TermType.ORDER_BY && query.connectionId > 2,
      `Cannot perform read: primary replica for shard ["${MARK}", +inf) not available`,
    );
    const path = `${dir}/t.jsonl`;
    const tracer = await Tracer.open(path);
    const summary = await dump({
      connect: connectTo(target, tracer),
      file: `${dir}/a.tar.gz`,
      exports: ["src"],
      retryDelayMs: 10,
      progress: { quiet: true },
    });
    await tracer.close();
    assert.equal(summary.documents, 5000);
    const { text, lines } = await readTrace(path);
    checkLines(text, lines);
    assertSameQueries(server.queries, lines);

    const retries = lines.filter((l) => l.kind === "retry");
    assert.ok(retries.some((l) => /reconnecting in/.test(String(l.waitingFor))), "a reconnect");
    const lost = retries.find((l) => /reconnecting in/.test(String(l.waitingFor)))!;
    assert.match(String(lost.task), /src\.items/);
    assert.match(String(lost.error), /closed the connection/);
    assert.equal(typeof lost.budgetMs, "number");
    const unavailable = retries.find((l) =>
      /waiting for table src\.items/.test(String(l.waitingFor))
    );
    assert.ok(unavailable, "a wait for the table");
    assert.match(
      String(unavailable.error),
      /^Cannot perform read: primary replica for shard \["…", \+inf\)/,
    );
    const waited = lines.find((l) => l.kind === "waited");
    assert.ok(waited, "the wait's end");
    assert.equal(waited.table, "src.items");
    assert.equal(waited.ready, true);
    assert.ok(lines.some((l) => l.term === "WAIT" && l.table === "src.items"));

    // The read cut short: its last CONTINUE had no answer, then its connection closed.
    const unanswered = lines.find((l) => l.kind === "query" && l.t === "none");
    assert.ok(unanswered, "the query the server never answered");
    const cut = lines.findIndex((l) => l.kind === "close" && l.conn === unanswered.conn);
    assert.ok(cut > lines.indexOf(unanswered));
    assert.match(String(lines[cut].reason), /closed the connection/);
    // The server's error is a line, redacted.
    const refused = lines.find((l) => l.t === "runtime_error")!;
    assert.equal(refused.term, "ORDER_BY");
    assert.match(String(refused.error), /shard \["…", \+inf\) not available/);
    assert.ok(lines.filter((l) => l.kind === "open").length >= 2, "reconnected");
  } finally {
    target.server?.faults.reset();
    await target.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

function quietContext(signal = new AbortController().signal) {
  const err: string[] = [];
  const context: Partial<CommandContext> = {
    print: () => 0,
    printError: (text: string) => void err.push(text),
    printVersion: () => 0,
    signal,
  };
  return { context, err };
}

Deno.test("trace: the CLI writes --trace FILE for dump and restore, and refuses a file it cannot create before connecting", async () => {
  const target = await inProcessTarget({ password: PASSWORD, recordQueries: true });
  const dir = await Deno.makeTempDir();
  try {
    await seed(target, "src", 100);
    await Deno.writeTextFile(`${dir}/pw`, `${PASSWORD}\n`);
    const address = `${target.host}:${target.port}`;
    const common = ["-c", address, "--password-file", `${dir}/pw`, "-q"];
    const { context, err } = quietContext();
    const code = await main(
      ["dump", ...common, "-e", "src", "-f", `${dir}/a.tar.gz`, "--trace", `${dir}/d.jsonl`],
      { context },
    );
    assert.equal(code, 0, err.join("\n"));
    const dumped = await readTrace(`${dir}/d.jsonl`);
    checkLines(dumped.text, dumped.lines);
    assert.ok(dumped.lines.some((l) => l.term === "ORDER_BY" && l.table === "src.items"));

    // Created afresh: a second run replaces the first one's lines.
    await Deno.writeTextFile(`${dir}/r.jsonl`, "old line\n");
    const restored = await main(
      ["restore", `${dir}/a.tar.gz`, ...common, "--rename", "src=dst", "--trace", `${dir}/r.jsonl`],
      { context },
    );
    assert.equal(restored, 0, err.join("\n"));
    const trace = await readTrace(`${dir}/r.jsonl`);
    checkLines(trace.text, trace.lines);
    assert.ok(trace.lines.some((l) => l.term === "INSERT" && l.table === "dst.items"));

    target.server!.queries.length = 0;
    const opened = target.server!.openConnections;
    const bad = quietContext();
    const refused = await main(
      ["dump", ...common, "-f", `${dir}/b.tar.gz`, "--trace", `${dir}/missing/t.jsonl`],
      { context: bad.context },
    );
    assert.equal(refused, 1);
    assert.equal(bad.err.length, 1, "one line");
    assert.match(
      bad.err[0],
      /^rethinkdb-backup: error: --trace .*missing\/t\.jsonl: cannot create the file: its directory does not exist; give a file in a writable directory$/,
    );
    assert.equal(target.server!.queries.length, 0, "nothing was asked of the server");
    // The restore's connections may still be closing on the server side; none was added.
    assert.ok(target.server!.openConnections <= opened, "no connection opened");
    assert.equal(await Deno.stat(`${dir}/b.tar.gz`).catch(() => undefined), undefined);
  } finally {
    await target.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trace: an interrupted dump's trace file is complete", async () => {
  const target = await inProcessTarget({ password: PASSWORD });
  const dir = await Deno.makeTempDir();
  try {
    await seed(target, "src", 100);
    await Deno.writeTextFile(`${dir}/pw`, `${PASSWORD}\n`);
    // The read is held back; SIGINT (here: its abort) comes meanwhile.
    target.server!.faults.delayResponses(5000, TermType.ORDER_BY);
    const controller = new AbortController();
    const { context } = quietContext(controller.signal);
    const path = `${dir}/i.jsonl`;
    const running = main([
      "dump",
      ...["-c", `${target.host}:${target.port}`, "--password-file", `${dir}/pw`, "-q"],
      ...["-e", "src", "-f", `${dir}/a.tar.gz`, "--trace", path],
    ], { context });
    // Waits until the read has been sent: its START is in the buffer, not yet in the file.
    for (let i = 0; i < 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (target.server!.openConnections > 0 && i > 10) break;
    }
    controller.abort(new InterruptedError("SIGINT"));
    assert.equal(await running, 130);
    const { text, lines } = await readTrace(path);
    checkLines(text, lines);
    const read = lines.find((l) => l.term === "ORDER_BY");
    assert.ok(read, "the read's START");
    assert.equal(read.t, "none", "never answered");
    assert.ok(
      lines.some((l) => l.kind === "close" && l.conn === read.conn),
      "its connection closed",
    );
  } finally {
    target.server?.faults.reset();
    await target.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trace: the root term's table and database are names only", () => {
  assert.deepEqual(queryTarget(q.orderBy(q.after(q.table("a", "b"), "k"), "id")), {
    db: "a",
    table: "b",
  });
  assert.deepEqual(queryTarget(q.insertJson(q.table("a", "b"), "[]", {})), { db: "a", table: "b" });
  assert.deepEqual(queryTarget(q.tableCreate("a", "b", {})), { db: "a", table: "b" });
  assert.deepEqual(queryTarget(q.dbDrop("a")), { db: "a" });
  assert.deepEqual(queryTarget(q.sum(q.bracket(q.info(q.table("a", "b")), "x"))), {
    db: "a",
    table: "b",
  });
  assert.equal(queryTarget(q.dbList()), undefined);
  // A datum shaped like a table term is data: never read as a name.
  assert.equal(queryTarget(q.datum([15, [[14, ["x"]], "y"]])), undefined);
  assert.equal(queryTarget("text"), undefined);
});

Deno.test("trace: error texts keep one line, names in backticks, and no quoted values", () => {
  assert.equal(
    redact('Failed to parse "{"secret": "a"}" as JSON: bad\n{"secret": 1}'),
    'Failed to parse "…" as JSON: bad',
  );
  assert.equal(redact("Table `a.b` does not exist."), "Table `a.b` does not exist.");
  assert.equal(redact('cut "in the mid'), 'cut "…');
  assert.equal(redact('shard ["k1", +inf) not available'), 'shard ["…", +inf) not available');
  assert.equal(redact("x".repeat(400)).length, 301);
});

Deno.test("trace: a stalled disk costs dropped lines, counted, never a waiting query", async () => {
  let release!: () => void;
  const stalled = new Promise<void>((resolve) => (release = resolve));
  const written: string[] = [];
  const decoder = new TextDecoder();
  const tracer = new Tracer("stalled.jsonl", async (bytes) => {
    await stalled;
    written.push(decoder.decode(bytes));
  });
  const line = { text: "x".repeat(200) };
  const started = performance.now();
  const count = Math.ceil((MAX_BUFFERED_CHARS * 3) / 250);
  for (let i = 0; i < count; i++) tracer.event("note", line);
  assert.ok(performance.now() - started < 5000, "appending never waits for the disk");
  release();
  await tracer.close();
  const lines = written.join("").trimEnd().split("\n").map((l) => JSON.parse(l));
  const dropped = lines.filter((l) => l.kind === "dropped");
  assert.equal(dropped.length, 1);
  assert.equal(lines.length - 1 + dropped[0].lines, count, "every line written or counted");
  assert.match(tracer.problem!, /^--trace stalled\.jsonl: \d+ lines dropped/);
});
