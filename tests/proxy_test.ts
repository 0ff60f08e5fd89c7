/**
 * The cutting TCP proxy (tests/support/proxy.ts): byte-for-byte forwarding, exact cuts that reset
 * both sides, connection counting, close. In front of the in-process test server, and of a plain
 * echo server to count bytes.
 */

import assert from "node:assert/strict";
import { type Connection, r } from "npm:rethinkdb-ts@3.0.0";
import { startCuttingProxy } from "./support/proxy.ts";
import { inProcessTarget, type TestTarget, testTarget } from "./support/target.ts";

/** Connects rethinkdb-ts to the target through the proxy at `port`. */
function connectThrough(target: TestTarget, port: number): Promise<Connection> {
  return r.connect({ host: "127.0.0.1", port, password: target.password, silent: true });
}

/** Creates `db.t` with `n` documents of about 100 bytes each. */
async function fill(target: TestTarget, n: number): Promise<string> {
  const db = target.uniqueDb("proxy");
  const conn = await target.connect();
  await r.dbCreate(db).run(conn);
  await r.db(db).tableCreate("t").run(conn);
  const docs = Array.from({ length: n }, (_, i) => ({ id: i, text: "x".repeat(90) }));
  await r.db(db).table("t").insert(docs).run(conn);
  return db;
}

async function withTarget(
  make: () => Promise<TestTarget>,
  fn: (target: TestTarget) => Promise<void>,
): Promise<void> {
  const target = await make();
  try {
    await fn(target);
  } finally {
    await target.cleanup();
  }
}

Deno.test("proxy: queries run through it, byte for byte both ways", async () => {
  await withTarget(inProcessTarget, async (target) => {
    const db = await fill(target, 200);
    const proxy = await startCuttingProxy({ target: { host: target.host, port: target.port } });
    try {
      const direct = target.server!.openConnections; // fill()'s own connection
      const conn = await connectThrough(target, proxy.port);
      assert.equal(target.server!.openConnections, direct + 1);
      const docs = await r.db(db).table("t").orderBy({ index: "id" }).run(conn);
      assert.equal(docs.length, 200);
      assert.deepEqual(docs[7], { id: 7, text: "x".repeat(90) });
      const big = "é€😀".repeat(50_000); // 450 KB of multi-byte text, both ways
      await r.db(db).table("t").insert({ id: "big", big }).run(conn);
      assert.equal((await r.db(db).table("t").get("big").run(conn) as { big: string }).big, big);
      assert.equal(proxy.connections, 1);
      assert.deepEqual(proxy.cut, []);
      // A client closing its connection closes the proxy's connection to the server too.
      await conn.close();
      for (let i = 0; i < 100 && target.server!.openConnections > direct; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(target.server!.openConnections, direct);
    } finally {
      await proxy.close();
    }
  });
});

Deno.test("proxy: the chosen connection is cut (lost connection), the others keep working", async () => {
  await withTarget(inProcessTarget, async (target) => {
    const db = await fill(target, 1000); // about 100 KB to read
    const proxy = await startCuttingProxy({
      target: { host: target.host, port: target.port },
      cuts: [{ connection: 2, afterBytes: 5000 }], // after the handshake (under 1 KB)
    });
    try {
      const first = await connectThrough(target, proxy.port);
      const second = await connectThrough(target, proxy.port);
      const third = await connectThrough(target, proxy.port);
      assert.equal(proxy.connections, 3);
      await assert.rejects(() => r.db(db).table("t").run(second));
      assert.deepEqual(proxy.cut, [2]);
      assert.equal(second.open, false);
      for (const conn of [first, third]) {
        assert.equal((await r.db(db).table("t").run(conn)).length, 1000);
      }
      // A new connection (the fourth) is not cut either.
      const fourth = await connectThrough(target, proxy.port);
      assert.equal(await r.db(db).table("t").count().run(fourth), 1000);
      assert.deepEqual(proxy.cut, [2]);
      for (const conn of [first, third, fourth]) await conn.close();
    } finally {
      await proxy.close();
    }
  });
});

Deno.test("proxy: a cut lets exactly afterBytes through, then resets both sides", async () => {
  // An echo server counts what reaches it; the client counts what comes back.
  const echo = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let echoed = 0;
  let echoEnd: string | undefined;
  const served = (async () => {
    const conn = await echo.accept();
    const buf = new Uint8Array(4096);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) {
          echoEnd = "eof";
          break;
        }
        echoed += n;
        await conn.write(buf.subarray(0, n));
      }
    } catch (e) {
      echoEnd = (e as Error).name;
    } finally {
      conn.close();
    }
  })();
  const proxy = await startCuttingProxy({
    target: { host: "127.0.0.1", port: (echo.addr as Deno.NetAddr).port },
    cuts: [{ connection: 1, afterBytes: 1000 }],
  });
  try {
    const client = await Deno.connect({ hostname: proxy.host, port: proxy.port });
    let received = 0;
    let clientEnd: string | undefined;
    const reading = (async () => {
      const buf = new Uint8Array(4096);
      try {
        for (;;) {
          const n = await client.read(buf);
          if (n === null) {
            clientEnd = "eof";
            break;
          }
          received += n;
        }
      } catch (e) {
        clientEnd = (e as Error).name;
      }
    })();
    let writeError: string | undefined;
    for (let i = 0; i < 20 && writeError === undefined; i++) {
      await client.write(new Uint8Array(100).fill(i)).catch((e) => (writeError = e.name));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await reading;
    await served;
    client.close();
    assert.equal(echoed + received, 1000);
    // The reset shows on the next read, unless a write took the error first (Linux then reads
    // an end of stream).
    if (writeError === undefined) assert.equal(clientEnd, "ConnectionReset");
    else assert.match(writeError, /ConnectionReset|BrokenPipe/);
    assert.equal(echoEnd, "ConnectionReset");
    assert.deepEqual(proxy.cut, [1]);
  } finally {
    await proxy.close();
    echo.close();
  }
});

Deno.test("proxy: afterBytes 0 cuts before the handshake; close() stops listening", async () => {
  await withTarget(inProcessTarget, async (target) => {
    const proxy = await startCuttingProxy({
      target: { host: target.host, port: target.port },
      cuts: [{ connection: 1, afterBytes: 0 }],
    });
    await assert.rejects(() => connectThrough(target, proxy.port));
    assert.deepEqual(proxy.cut, [1]);
    const conn = await connectThrough(target, proxy.port);
    assert.equal(await r.expr(1).run(conn), 1);
    await proxy.close();
    // Its connections are closed and nothing listens any more.
    await assert.rejects(() => r.expr(1).run(conn));
    await assert.rejects(
      () => Deno.connect({ hostname: proxy.host, port: proxy.port }),
      Deno.errors.ConnectionRefused,
    );
  });
});

Deno.test("proxy: in front of the test target (a real server when RETHINKDB_TEST_SERVER is set)", async () => {
  await withTarget(testTarget, async (target) => {
    const db = await fill(target, 300);
    const proxy = await startCuttingProxy({
      target: { host: target.host, port: target.port },
      cuts: [{ connection: 1, afterBytes: 3000 }],
    });
    try {
      const cut = await connectThrough(target, proxy.port);
      await assert.rejects(() => r.db(db).table("t").run(cut));
      const conn = await connectThrough(target, proxy.port);
      assert.equal((await r.db(db).table("t").run(conn)).length, 300);
      await conn.close();
      assert.deepEqual([proxy.connections, proxy.cut], [2, [1]]);
    } finally {
      await proxy.close();
    }
  });
});
