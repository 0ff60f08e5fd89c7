/**
 * `Link`: a lost connection or an unavailable table is ridden out within a time budget; one lost
 * connection is one reconnect however many operations were on it; errors no wait cures stop at
 * once.
 */
import assert from "node:assert/strict";
import { type Connection, ConnectionLostError, ServerError } from "../src/connection/driver.ts";
import { isUnavailable, Link, type RetryEvent } from "../src/connection/link.ts";
import { BackupError } from "../src/errors.ts";

const UNAVAILABLE = 'Cannot perform write: primary replica for shard ["", +inf) not available';

/** Fake connections, numbered from 1 in the order they are opened. */
function fakeServer(options: { refuseAfter?: number } = {}) {
  const opened: { id: number; closed: boolean; waits: string[] }[] = [];
  const connect = () => {
    if (options.refuseAfter !== undefined && opened.length >= options.refuseAfter) {
      return Promise.reject(new BackupError("cannot connect: connection refused"));
    }
    const state = { id: opened.length + 1, closed: false, waits: [] as string[] };
    opened.push(state);
    return Promise.resolve({
      id: state.id,
      close: () => (state.closed = true, Promise.resolve()),
      waitForTable: (
        db: string,
        table: string,
      ) => (state.waits.push(`${db}.${table}`), Promise.resolve()),
    } as unknown as Connection);
  };
  return { connect, opened };
}

function linkOf(server: ReturnType<typeof fakeServer>, retryForMs = 60_000) {
  const events: RetryEvent[] = [];
  const link = new Link({
    connect: server.connect,
    address: { host: "localhost", port: 28015 },
    retryForMs,
    retryDelayMs: 5,
    signal: new AbortController().signal,
    onRetry: (event) => events.push(event),
  });
  return { link, events };
}

const idOf = (conn: Connection) => (conn as unknown as { id: number }).id;

Deno.test("Link: one lost connection is one reconnect, however many operations were on it", async () => {
  const server = fakeServer();
  const { link, events } = linkOf(server);
  let breakFirst!: () => void;
  const broken = new Promise<void>((resolve) => (breakFirst = resolve));
  const runs = Array.from({ length: 8 }, (_, i) =>
    link.run(async (conn) => {
      if (idOf(conn) === 1) {
        await broken;
        throw new ConnectionLostError("lost the connection: connection reset");
      }
      return i;
    }, `operation ${i}`));
  await new Promise((resolve) => setTimeout(resolve, 10));
  breakFirst();
  assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(server.opened.length, 2, "one connection, then one reconnect");
  assert.equal(events.length, 1, "one warning");
  assert.match(events[0].waitingFor, /^reconnecting in 0\.0s$/);
  assert.ok(server.opened[0].closed);
});

Deno.test("Link: the budget is time; a server that stays away ends it with one line", async () => {
  const server = fakeServer({ refuseAfter: 1 });
  const { link, events } = linkOf(server, 200);
  const started = Date.now();
  const error = await link.run(() => {
    throw new ConnectionLostError("lost the connection: connection reset");
  }, "reading db.t").catch((e) => e);
  assert.ok(error instanceof BackupError);
  assert.match(
    error.message,
    /^reading db\.t: gave up after 0\.\ds of retrying \(--retry-for 0\.2s\): .*connection refused; check the server/,
  );
  assert.ok(Date.now() - started >= 200, "it kept trying for the whole budget");
  assert.ok(events.length >= 3, `${events.length} pauses`);
});

Deno.test("Link: an unavailable table is waited for, then the work goes on; a success resets the budget", async () => {
  const server = fakeServer();
  const { link, events } = linkOf(server, 60_000);
  let calls = 0;
  const result = await link.run(
    () => {
      if (++calls <= 2) throw new ServerError(UNAVAILABLE, 18, 4100000);
      return Promise.resolve("written");
    },
    "restoring db.t",
    { db: "db", table: "t" },
  );
  assert.equal(result, "written");
  assert.equal(calls, 3);
  assert.equal(server.opened.length, 1, "the connection is kept");
  assert.deepEqual(server.opened[0].waits, ["db.t", "db.t"]);
  assert.deepEqual(events.map((e) => e.waitingFor), [
    "waiting for table db.t to be ready",
    "waiting for table db.t to be ready",
  ]);
});

Deno.test("Link: errors no wait cures stop at once", async () => {
  const server = fakeServer();
  const { link, events } = linkOf(server);
  let calls = 0;
  await assert.rejects(
    link.run(
      () => {
        calls++;
        throw new ServerError("Table `db.t` does not exist.", 18, 4100000);
      },
      "reading db.t",
      { db: "db", table: "t" },
    ),
    /Table `db\.t` does not exist\./,
  );
  assert.equal(calls, 1);
  assert.equal(events.length, 0);
});

Deno.test("isUnavailable: the server's availability failures, and nothing else", () => {
  const runtime = (message: string) => new ServerError(message, 18, 4100000);
  for (
    const message of [
      UNAVAILABLE,
      'Cannot perform read: primary replica for shard ["", +inf) not available',
      "Cannot perform write: The primary replica isn't connected to a quorum of replicas. The write was not performed.",
      "The server(s) hosting table `db.t` are currently unreachable. The table was not dropped.",
      "We lost contact with the server(s) hosting table `db.t`. The indexes may or may not have been created.",
    ]
  ) assert.ok(isUnavailable(runtime(message)), message);
  for (
    const message of [
      "Table `db.t` does not exist.",
      "Cannot perform get_field on a sequence of sequences.",
      "Database `db` does not exist.",
    ]
  ) assert.ok(!isUnavailable(runtime(message)), message);
  assert.ok(!isUnavailable(new ServerError(UNAVAILABLE, 17)), "a compile error is not");
});

Deno.test("Link: once the server has been reached, a refused connection is a restart, retried", async () => {
  // The first connection works, then the server restarts: refused twice, then up again.
  let attempts = 0;
  const connect = () => {
    attempts++;
    if (attempts === 2 || attempts === 3) {
      return Promise.reject(new BackupError("cannot connect: connection refused"));
    }
    return Promise.resolve({ close: () => Promise.resolve() } as unknown as Connection);
  };
  const events: RetryEvent[] = [];
  const link = new Link({
    connect,
    address: { host: "localhost", port: 28015 },
    retryForMs: 60_000,
    retryDelayMs: 5,
    signal: new AbortController().signal,
    onRetry: (event) => events.push(event),
  });
  await link.run(() => Promise.resolve("first"));
  // Lost between two operations: the next one finds no connection, with no failure under way.
  await link.close();
  assert.equal(await link.run(() => Promise.resolve("after the restart")), "after the restart");
  assert.equal(attempts, 4);
  assert.equal(events.length, 2, "each refusal a pause within the budget");

  // A link that never reached the server reports a refusal at once: a wrong address.
  const fresh = new Link({
    connect: () => Promise.reject(new BackupError("cannot connect: connection refused")),
    address: { host: "localhost", port: 28015 },
    retryForMs: 60_000,
    retryDelayMs: 5,
    signal: new AbortController().signal,
  });
  await assert.rejects(fresh.run(() => Promise.resolve()), /connection refused/);
});
