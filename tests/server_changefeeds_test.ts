/**
 * Table changefeeds of the test server, through raw frames: the frames recorded from a real
 * RethinkDB 2.4.4 (`wire/changefeeds.jsonl`) come back byte for byte, and the behaviours the
 * recording does not show were checked on a real 2.4.4 (argument errors, notes without states,
 * squash rules, overflow counts, ends of feeds). Also the fault injection aimed at feeds.
 */

import assert from "node:assert/strict";
import { r } from "npm:rethinkdb-ts@3.0.0";
import { startTestServer, type TestServer } from "./server/mod.ts";
import { RawClient } from "./support/raw_client.ts";
import { readJsonLines, specDir } from "./support/shared.ts";
import type { WireRecord } from "./support/transcript.ts";

/**
 * A {@link RawClient} whose answers are the server's text (as it wrote them), so that
 * comparisons are of bytes.
 */
class FrameClient {
  #nextToken = 1000;

  private constructor(
    readonly raw: RawClient,
    /** The server's handshake messages, as sent. */
    readonly greeting: string[],
  ) {}

  /** Connects as `admin` (no password) and runs the handshake. */
  static async connect(port: number, nonce = "cfTestNonce00000000000001"): Promise<FrameClient> {
    const raw = await RawClient.open("127.0.0.1", port);
    const { messages, texts } = await raw.handshake("admin", "", nonce);
    assert.equal(messages[2]?.success, true);
    return new FrameClient(raw, texts);
  }

  /** Sends a query frame (frames go out in call order). */
  send(token: number, query: unknown): Promise<void> {
    return this.raw.send(token, query);
  }

  /** The next response for `token`, as text; null once the connection is closed. */
  next(token: number): Promise<string | null> {
    return this.raw.nextText(token);
  }

  /** Sends a query and returns its first response. */
  async query(token: number, query: unknown): Promise<string | null> {
    await this.send(token, query);
    return await this.next(token);
  }

  /** Runs a term on a fresh token; fails unless it succeeds with an atom. */
  async run(term: unknown, optargs: Record<string, unknown> = {}): Promise<unknown> {
    const text = await this.query(this.#nextToken++, [1, term, optargs]);
    const res = JSON.parse(text ?? "null");
    assert.equal(res?.t, 1, `query ${JSON.stringify(term)} answered ${text}`);
    return res.r[0];
  }

  /**
   * Sends CONTINUE; returns its answer, which a feed may hold (null if the connection closes
   * first, which is also what a failed send comes to).
   */
  cont(token: number): Promise<string | null> {
    this.send(token, [2]).catch(() => {});
    return this.next(token);
  }

  /** Resolves once the server has closed the connection. */
  closedByServer(): Promise<void> {
    return this.raw.closedByServer();
  }

  close(): void {
    this.raw.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What `p` resolves to within `ms`, or undefined if it has not by then (`p` stays usable). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const DB = "feeds";
const tbl = (name = "t") => [15, [[14, [DB]], name]];
const get = (key: unknown, name = "t") => [16, [tbl(name), key]];
const insert = (doc: unknown, optargs?: Record<string, unknown>, name = "t") =>
  optargs === undefined ? [56, [tbl(name), doc]] : [56, [tbl(name), doc], optargs];
const update = (sel: unknown, patch: unknown) => [53, [sel, patch]];
const del = (sel: unknown) => [54, [sel]];
const array = (...items: unknown[]) => [2, items];
const changes = (optargs: Record<string, unknown> = {}, name = "t") => [
  152,
  [tbl(name)],
  optargs,
];
/** A START of `changes(optargs)` on `feeds.<name>`, with global optargs. */
const startFeed = (
  optargs: Record<string, unknown> = {},
  global: Record<string, unknown> = {},
  name = "t",
) => [1, changes(optargs, name), global];

const STOPPED = '{"t":2,"r":[],"n":[]}';
const ABORTED = '{"t":18,"e":4100000,"r":["Changefeed aborted (unavailable)."],"b":[]}';
const notInCache = (token: number) => `{"t":16,"r":["Token ${token} not in stream cache."],"b":[]}`;
const skipped = (k: number) =>
  `{"error":"Changefeed cache over array size limit, skipped ${k} elements."}`;
/** A feed batch: partial, with the notes of a feed with (`[1,5]`) or without states. */
const batch = (items: string[], states = false) =>
  `{"t":3,"r":[${items.join(",")}],"n":${states ? "[1,5]" : "[1]"}}`;

interface Fixture {
  server: TestServer;
  /** Reads feeds. */
  reader: FrameClient;
  /** Writes, on its own connection as the recording's second connection did. */
  writer: FrameClient;
}

/**
 * Runs `fn` on a fresh test server whose `feeds.t` holds `{id:1,v:"a"}`, `{id:2,v:"b"}` and
 * `{id:3,v:"c"}` (and `feeds.<name>` for each of `tables`, empty).
 */
function feedTest(name: string, fn: (f: Fixture) => Promise<void>, tables: string[] = []): void {
  Deno.test(name, async () => {
    const server = await startTestServer();
    const clients: FrameClient[] = [];
    try {
      const writer = await FrameClient.connect(server.port);
      clients.push(writer);
      await writer.run([57, [DB]]);
      for (const t of ["t", ...tables]) await writer.run([60, [[14, [DB]], t]]);
      await writer.run(
        insert(array({ id: 1, v: "a" }, { id: 2, v: "b" }, { id: 3, v: "c" })),
      );
      const reader = await FrameClient.connect(server.port);
      clients.push(reader);
      await fn({ server, reader, writer });
    } finally {
      for (const c of clients) c.close();
      await server.close();
    }
  });
}

/** Replaces generated ids (config_changes of dbCreate/tableCreate) in response text. */
function normaliseIds(text: string): string {
  return text.replace(
    /"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"/g,
    '"<uuid>"',
  );
}

Deno.test("changefeeds.jsonl: every recorded frame comes back byte for byte", async () => {
  // The recording server was named vm_0cm and had no `test` database but a `bench` one.
  const server = await startTestServer({ serverName: "vm_0cm" });
  const clients = new Map<number, FrameClient>();
  try {
    const setup = await FrameClient.connect(server.port);
    await setup.run([58, ["test"]]);
    await setup.run([57, ["bench"]]);
    setup.close();
    const records = await readJsonLines(
      new URL("wire/changefeeds.jsonl", specDir()),
    ) as WireRecord[];
    let exact = 0;
    let ids = 0;
    const mismatches: string[] = [];
    for (const rec of records) {
      if (rec.kind === "magic") {
        const client = await FrameClient.connect(server.port);
        clients.set(rec.conn, client);
        // The version message is the only handshake message without nonces or salts.
        const recorded = records.find((x) =>
          x.conn === rec.conn && x.dir === "server" && x.kind === "handshake"
        );
        assert.equal(client.greeting[0], JSON.stringify(recorded!.json));
        continue;
      }
      if (rec.kind !== "frame") continue;
      const client = clients.get(rec.conn)!;
      const token = Number(rec.token);
      if (rec.dir === "client") {
        await client.send(token, rec.json);
        continue;
      }
      // Responses for one token come in the recorded order; across tokens order is free.
      const mine = await within(client.next(token), 5000);
      // JSON.stringify of the parsed recording is the server's compact text: the keys keep the
      // order they came in and every number in it is an integer.
      const recorded = JSON.stringify(rec.json);
      if (mine === recorded) exact++;
      else if (
        mine !== undefined && mine !== null && normaliseIds(mine) === normaliseIds(recorded)
      ) {
        ids++;
      } else {
        mismatches.push(
          `conn ${rec.conn} token ${token}:\n  recorded ${recorded}\n  received ${mine}`,
        );
      }
    }
    assert.deepEqual(mismatches, []);
    // 87 server frames, of which the dbCreate/tableCreate/tableDrop/dbDrop answers carry ids.
    assert.equal(exact + ids, 87);
    assert.equal(ids, 5);
  } finally {
    for (const c of clients.values()) c.close();
    await server.close();
  }
});

feedTest(
  "a feed without include_states starts with an empty batch (notes [1]); an idle CONTINUE is held until a write, which comes whole",
  async ({ reader, writer }) => {
    assert.equal(await reader.query(1, startFeed()), batch([]));
    const held = reader.cont(1);
    assert.equal(await within(held, 150), undefined);
    await writer.run(insert(array({ id: 10 }, { id: 11 }, { id: 12 })));
    assert.equal(
      await held,
      batch([
        '{"new_val":{"id":10},"old_val":null}',
        '{"new_val":{"id":11},"old_val":null}',
        '{"new_val":{"id":12},"old_val":null}',
      ]),
    );
    assert.equal(await reader.query(1, [3]), STOPPED);
  },
);

feedTest(
  "every kind of write is a change, queued in commit order until the next CONTINUE; writes that change nothing are not",
  async ({ reader, writer }) => {
    assert.equal(
      await reader.query(1, startFeed({ include_types: true })),
      batch([]),
    );
    await writer.run(insert({ id: 4, v: "d" }));
    await writer.run(update(get(1), { v: "a2" }));
    await writer.run(insert({ id: 2, w: 1 }, { conflict: "replace" }));
    await writer.run(del(get(3)));
    await writer.run(insert({ id: 4, x: 1 }, { conflict: "replace" }));
    await writer.run(insert({ id: 1, y: 2 }, { conflict: "update" }));
    // Nothing changes: a duplicate key, the same values again, a missing document.
    await writer.run(insert({ id: 1 }));
    await writer.run(update(get(1), { v: "a2" }));
    await writer.run(insert({ id: 2, w: 1 }, { conflict: "replace" }));
    await writer.run(del(get(3)));
    await writer.run(insert({ id: 4, x: 1 }, { conflict: "replace" }));
    await writer.run(insert({ id: 4 }, { conflict: "update" }));
    // Many documents at once: in primary-key order, as the write makes them.
    await writer.run(update(tbl(), { z: 0 }));
    await writer.run(del([39, [tbl(), { w: 1 }]]));
    await writer.run([68, [array(5, 6), [69, [array(1), insert({ id: [10, [1]] })]]]]);
    await writer.run(insert({ id: 7 }, { durability: "soft" }));
    const res = await reader.cont(1);
    assert.equal(
      res,
      batch([
        '{"new_val":{"id":4,"v":"d"},"old_val":null,"type":"add"}',
        '{"new_val":{"id":1,"v":"a2"},"old_val":{"id":1,"v":"a"},"type":"change"}',
        '{"new_val":{"id":2,"w":1},"old_val":{"id":2,"v":"b"},"type":"change"}',
        '{"new_val":null,"old_val":{"id":3,"v":"c"},"type":"remove"}',
        '{"new_val":{"id":4,"x":1},"old_val":{"id":4,"v":"d"},"type":"change"}',
        '{"new_val":{"id":1,"v":"a2","y":2},"old_val":{"id":1,"v":"a2"},"type":"change"}',
        '{"new_val":{"id":1,"v":"a2","y":2,"z":0},"old_val":{"id":1,"v":"a2","y":2},"type":"change"}',
        '{"new_val":{"id":2,"w":1,"z":0},"old_val":{"id":2,"w":1},"type":"change"}',
        '{"new_val":{"id":4,"x":1,"z":0},"old_val":{"id":4,"x":1},"type":"change"}',
        '{"new_val":null,"old_val":{"id":2,"w":1,"z":0},"type":"remove"}',
        '{"new_val":{"id":5},"old_val":null,"type":"add"}',
        '{"new_val":{"id":6},"old_val":null,"type":"add"}',
        '{"new_val":{"id":7},"old_val":null,"type":"add"}',
      ]),
    );
  },
);

feedTest(
  "STOP answers the CONTINUEs it interrupts and itself with an empty t:2; the token is free after",
  async ({ server, reader, writer }) => {
    assert.equal(
      await reader.query(1, startFeed({ include_states: true })),
      batch(['{"state":"ready"}'], true),
    );
    const first = reader.cont(1);
    const second = reader.cont(1);
    assert.equal(await within(first, 100), undefined);
    await reader.send(1, [3]);
    assert.equal(await first, STOPPED);
    assert.equal(await second, STOPPED);
    assert.equal(await reader.next(1), STOPPED);
    assert.equal(await reader.query(1, [2]), notInCache(1));
    assert.equal(await reader.query(1, [3]), notInCache(1));
    assert.equal(server.store.table(DB, "t").feeds.size, 0);
    await writer.run(insert({ id: 9 }));
  },
);

feedTest(
  "two CONTINUEs held on one feed are answered one after the other",
  async ({ reader, writer }) => {
    assert.equal(await reader.query(1, startFeed()), batch([]));
    const first = reader.cont(1);
    const second = reader.cont(1);
    await writer.run(insert({ id: 10 }));
    assert.equal(await first, batch(['{"new_val":{"id":10},"old_val":null}']));
    assert.equal(await within(second, 100), undefined);
    await writer.run(insert({ id: 11 }));
    assert.equal(await second, batch(['{"new_val":{"id":11},"old_val":null}']));
  },
);

feedTest(
  "include_initial: initializing, the documents (not in key order) in batches, then ready with what changed meanwhile",
  async ({ reader, writer }) => {
    await writer.run(insert(array({ id: 4, v: "d" }, { id: 5, v: "e" })));
    const first = await reader.query(
      1,
      startFeed({ include_initial: true, include_states: true, include_types: true }, {
        max_batch_rows: 2,
      }),
    );
    assert.equal(
      first,
      batch([
        '{"state":"initializing","type":"state"}',
        '{"new_val":{"id":5,"v":"e"},"type":"initial"}',
        '{"new_val":{"id":4,"v":"d"},"type":"initial"}',
      ], true),
    );
    // Changes of documents sent already and not sent yet, while the initial values go out.
    await writer.run(update(get(5), { v: "e2" }));
    await writer.run(update(get(1), { v: "a2" }));
    await writer.run(insert({ id: 6 }));
    await writer.run(del(get(2)));
    const items: string[] = [];
    for (let i = 0; i < 10 && !items.some((x) => x.includes('"ready"')); i++) {
      items.push(...JSON.parse((await reader.cont(1))!).r.map(JSON.stringify));
    }
    items.push(...JSON.parse((await reader.cont(1))!).r.map(JSON.stringify));
    assert.deepEqual(items, [
      '{"new_val":{"id":3,"v":"c"},"type":"initial"}',
      '{"new_val":{"id":2,"v":"b"},"type":"initial"}',
      '{"new_val":{"id":1,"v":"a"},"type":"initial"}',
      '{"state":"ready","type":"state"}',
      '{"new_val":{"id":5,"v":"e2"},"old_val":{"id":5,"v":"e"},"type":"change"}',
      '{"new_val":{"id":1,"v":"a2"},"old_val":{"id":1,"v":"a"},"type":"change"}',
      '{"new_val":{"id":6},"old_val":null,"type":"add"}',
    ]);
    // A reader that applies what it got in order has the table as it is.
    const next = reader.cont(1);
    const view = new Map<number, unknown>();
    const apply = (item: { new_val?: { id: number }; old_val?: { id: number } | null }) => {
      if (item.new_val) view.set(item.new_val.id, item.new_val);
      else if (item.old_val) view.delete(item.old_val.id);
    };
    const firstItems = JSON.parse(first!).r.slice(1);
    for (const item of [...firstItems, ...items.map((x) => JSON.parse(x))]) apply(item);
    for (const item of JSON.parse((await next)!).r) apply(item);
    const read = JSON.parse((await writer.query(1, [1, [41, [tbl()], { index: "id" }], {}]))!);
    assert.equal(read.t, 2);
    const byId = (a: unknown, b: unknown) => (a as { id: number }).id - (b as { id: number }).id;
    assert.deepEqual([...view.values()].sort(byId), read.r);
  },
);

feedTest(
  "include_initial without states, and on an empty table",
  async ({ reader }) => {
    assert.equal(
      await reader.query(1, startFeed({ include_initial: true })),
      batch([
        '{"new_val":{"id":3,"v":"c"}}',
        '{"new_val":{"id":2,"v":"b"}}',
        '{"new_val":{"id":1,"v":"a"}}',
      ]),
    );
    assert.equal(await within(reader.cont(1), 100), undefined);
    assert.equal(
      await reader.query(2, startFeed({ include_initial: true, include_states: true }, {}, "e")),
      batch(['{"state":"initializing"}'], true),
    );
    assert.equal(await reader.cont(2), batch(['{"state":"ready"}'], true));
    assert.equal(await reader.query(3, startFeed({ include_initial: true }, {}, "e")), batch([]));
  },
  ["e"],
);

feedTest(
  "squash: one change per document, first old_val and last new_val; a change undone disappears",
  async ({ reader, writer }) => {
    assert.equal(await reader.query(1, startFeed({ squash: true })), batch([]));
    await writer.run(update(get(3), { v: "x" }));
    await writer.run(insert({ id: 200 }));
    await writer.run(del(get(200)));
    await writer.run(update(get(2), { v: "tmp" }));
    await writer.run(update(get(2), { v: "b" }));
    await writer.run(update(get(1), { v: "x" }));
    await writer.run(update(get(3), { v: "y" }));
    await writer.run(update(get(1), { v: "y" }));
    // Undone, then changed again: it queues behind the others.
    await writer.run(update(get(2), { v: "z" }));
    assert.equal(
      await reader.cont(1),
      batch([
        '{"new_val":{"id":3,"v":"y"},"old_val":{"id":3,"v":"c"}}',
        '{"new_val":{"id":1,"v":"y"},"old_val":{"id":1,"v":"a"}}',
        '{"new_val":{"id":2,"v":"z"},"old_val":{"id":2,"v":"b"}}',
      ]),
    );
  },
);

feedTest(
  "squash: N holds a read N seconds for changes to gather, less when the queue passes half its size",
  async ({ reader, writer }) => {
    assert.equal(
      await reader.query(1, startFeed({ squash: 0.3, include_states: true })),
      batch(['{"state":"ready"}'], true),
    );
    let since = performance.now();
    const held = reader.cont(1);
    await writer.run(update(get(1), { v: "s1" }));
    await writer.run(update(get(1), { v: "s2" }));
    assert.equal(
      await held,
      batch(['{"new_val":{"id":1,"v":"s2"},"old_val":{"id":1,"v":"a"}}'], true),
    );
    assert.ok(performance.now() - since >= 250, `answered after ${performance.now() - since} ms`);

    assert.equal(
      await reader.query(2, startFeed({ squash: 30, changefeed_queue_size: 4 })),
      batch([]),
    );
    since = performance.now();
    const early = reader.cont(2);
    for (const id of [20, 21, 22]) await writer.run(insert({ id }));
    assert.equal(
      await early,
      batch([20, 21, 22].map((id) => `{"new_val":{"id":${id}},"old_val":null}`)),
    );
    assert.ok(performance.now() - since < 5000);
  },
);

feedTest(
  "changefeed_queue_size: past it the queued changes are dropped and the next read reports how many",
  async ({ reader, writer }) => {
    // From the query's global optargs too; 5 unread changes with room for 2: 3 dropped.
    assert.equal(
      await reader.query(1, startFeed({ include_states: true }, { changefeed_queue_size: 2 })),
      batch(['{"state":"ready"}'], true),
    );
    for (let i = 0; i < 5; i++) await writer.run(update(get(1), { v: `g${i}` }));
    assert.equal(await reader.cont(1), batch([skipped(3)], true));
    assert.equal(
      await reader.cont(1),
      batch([
        '{"new_val":{"id":1,"v":"g3"},"old_val":{"id":1,"v":"g2"}}',
        '{"new_val":{"id":1,"v":"g4"},"old_val":{"id":1,"v":"g3"}}',
      ], true),
    );
    // A squashed queue holds one change per document: 10 changes of one never overflow it.
    assert.equal(
      await reader.query(2, startFeed({ squash: true, changefeed_queue_size: 2 })),
      batch([]),
    );
    for (let i = 0; i < 10; i++) await writer.run(update(get(2), { v: `h${i}` }));
    assert.equal(
      await reader.cont(2),
      batch(['{"new_val":{"id":2,"v":"h9"},"old_val":{"id":2,"v":"b"}}']),
    );
  },
);

feedTest("bad arguments fail as on the real server", async ({ reader }) => {
  // Answers of a real RethinkDB 2.4.4 to the same queries.
  const cases: [unknown, string][] = [
    [
      changes({ squash: "x" }),
      '{"t":18,"e":3000000,"r":["Expected BOOL or NUMBER but found STRING."],"b":["squash"]}',
    ],
    [
      changes({ squash: -1 }),
      '{"t":18,"e":3000000,"r":["Expected BOOL or a positive NUMBER but found a negative NUMBER."],"b":["squash"]}',
    ],
    [
      changes({ changefeed_queue_size: 0 }),
      '{"t":18,"e":3000000,"r":["Illegal changefeed queue size `0`.  (Must be >= 1.)"],"b":[]}',
    ],
    [
      changes({ changefeed_queue_size: 1.5 }),
      '{"t":18,"e":3000000,"r":["Number not an integer: 1.5"],"b":["changefeed_queue_size"]}',
    ],
    [
      changes({ include_offsets: true }),
      '{"t":18,"e":3000000,"r":["Cannot include offsets for range subs."],"b":[]}',
    ],
    [changes({ foo: true }), '{"t":17,"r":["Unrecognized optional argument `foo`."],"b":["foo"]}'],
    [
      [152, [array(1, 2)]],
      '{"t":18,"e":3000000,"r":["Cannot call `changes` on an eager stream."],"b":[0]}',
    ],
    [[152, [1]], '{"t":18,"e":3000000,"r":["Cannot convert NUMBER to SEQUENCE"],"b":[]}'],
    [
      [152, [[14, [DB]]]],
      '{"t":18,"e":3000000,"r":["Expected type SELECTION but found DATABASE:\\ndb(\\"feeds\\")"],"b":[0]}',
    ],
    [
      [152, [tbl("nope")]],
      '{"t":18,"e":4100000,"r":["Table `feeds.nope` does not exist."],"b":[0]}',
    ],
    [[152, [tbl(), 1]], '{"t":17,"r":["Expected 1 argument but found 2."],"b":[]}'],
  ];
  let token = 1;
  for (const [term, answer] of cases) {
    assert.equal(await reader.query(token++, [1, term, {}]), answer, JSON.stringify(term));
  }
  // The real server reads the include_* flags as truthy values.
  assert.equal(
    await reader.query(token++, [1, changes({ include_states: "x" }), {}]),
    batch(['{"state":"ready"}'], true),
  );
  // Feeds on other selections and terms applied to feeds are not implemented (the real server
  // answers `typeOf` with "STREAM" and `count` with a QUERY_LOGIC error).
  const notImplemented = /^\{"t":18,"e":1000000,"r":\["The test server does not implement /;
  assert.match((await reader.query(token++, [1, [43, [changes()]], {}]))!, notImplemented);
  assert.match((await reader.query(token++, [1, [152, [get(1)]], {}]))!, notImplemented);
  assert.match(
    (await reader.query(token++, [1, [152, [[15, [[14, ["rethinkdb"]], "jobs"]]]], {}]))!,
    notImplemented,
  );
});

feedTest(
  "dropping the table or its database ends the feed with the real error, at once for a held CONTINUE",
  async ({ server, reader, writer }) => {
    assert.equal(await reader.query(1, startFeed({}, {}, "gone")), batch([]));
    const held = reader.cont(1);
    await writer.run([61, [[14, [DB]], "gone"]]);
    assert.equal(await held, ABORTED);
    assert.equal(await reader.query(1, [2]), notInCache(1));

    assert.equal(
      await reader.query(2, startFeed({ include_states: true })),
      batch(['{"state":"ready"}'], true),
    );
    await writer.run(insert({ id: 50 }));
    await writer.run([58, [DB]]);
    // The error comes before the changes queued before the drop.
    assert.equal(await reader.cont(2), ABORTED);
    assert.equal(server.store.allTables().length, 0);
  },
  ["gone"],
);

feedTest(
  "many feeds on one connection, each on its own token",
  async ({ server, reader, writer }) => {
    const tables = ["t", "a", "b"];
    const tokenOf = (t: number, i: number) => 100 + 10 * t + i;
    for (let t = 0; t < tables.length; t++) {
      for (let i = 0; i < 10; i++) {
        const states = i % 2 === 0;
        assert.equal(
          await reader.query(tokenOf(t, i), startFeed({ include_states: states }, {}, tables[t])),
          batch(states ? ['{"state":"ready"}'] : [], states),
        );
      }
    }
    assert.equal(server.store.table(DB, "a").feeds.size, 10);
    for (let t = 0; t < tables.length; t++) {
      await writer.run(insert({ id: 1000 + t }, undefined, tables[t]));
    }
    for (let t = 0; t < tables.length; t++) {
      for (let i = 0; i < 10; i++) {
        assert.equal(
          await reader.cont(tokenOf(t, i)),
          batch([`{"new_val":{"id":${1000 + t}},"old_val":null}`], i % 2 === 0),
        );
      }
    }
    // Stopping some leaves the others going.
    for (let i = 0; i < 10; i += 2) assert.equal(await reader.query(tokenOf(1, i), [3]), STOPPED);
    assert.equal(server.store.table(DB, "a").feeds.size, 5);
    await writer.run(insert({ id: 2000 }, undefined, "a"));
    for (let i = 1; i < 10; i += 2) {
      assert.equal(
        await reader.cont(tokenOf(1, i)),
        batch(['{"new_val":{"id":2000},"old_val":null}']),
      );
    }
  },
  ["a", "b"],
);

feedTest("closing the connection discards its feeds", async ({ server, reader, writer }) => {
  for (const token of [1, 2, 3]) {
    assert.equal(
      await reader.query(token, startFeed({ include_initial: token === 3 })),
      token === 3
        ? batch([
          '{"new_val":{"id":3,"v":"c"}}',
          '{"new_val":{"id":2,"v":"b"}}',
          '{"new_val":{"id":1,"v":"a"}}',
        ])
        : batch([]),
    );
  }
  const held = reader.cont(1);
  assert.equal(server.store.table(DB, "t").feeds.size, 3);
  reader.close();
  assert.equal(await held, null);
  for (let i = 0; i < 100 && server.openConnections > 1; i++) await sleep(10);
  assert.equal(server.openConnections, 1);
  assert.equal(server.store.table(DB, "t").feeds.size, 0);
  await writer.run(insert({ id: 10 }));
});

feedTest(
  "faults.abortFeeds ends the feeds of one table (or all) with the runtime error of an unavailable table",
  async ({ server, reader, writer }) => {
    assert.equal(await reader.query(1, startFeed()), batch([]));
    assert.equal(
      await reader.query(2, startFeed({ include_states: true })),
      batch(['{"state":"ready"}'], true),
    );
    assert.equal(await reader.query(3, startFeed({}, {}, "u")), batch([]));
    const held = reader.cont(1);
    assert.equal(server.faults.abortFeeds({ db: DB, table: "t" }), 2);
    assert.equal(await held, ABORTED);
    assert.equal(await reader.cont(2), ABORTED);
    assert.equal(await reader.query(2, [2]), notInCache(2));
    // The table is still there, and the other table's feed goes on.
    await writer.run(insert({ id: 7 }, undefined, "u"));
    assert.equal(await reader.cont(3), batch(['{"new_val":{"id":7},"old_val":null}']));
    assert.equal(server.faults.abortFeeds({ db: "other" }), 0);
    assert.equal(server.faults.abortFeeds(), 1);
    assert.equal(await reader.cont(3), ABORTED);
    await writer.run(insert({ id: 8 }));
  },
  ["u"],
);

feedTest(
  "faults.overflowFeeds: open feeds at once, then the next ones after their first answer",
  async ({ server, reader, writer }) => {
    // Open with unread changes: they are the skipped ones.
    assert.equal(await reader.query(1, startFeed()), batch([]));
    for (const id of [10, 11, 12]) await writer.run(insert({ id }));
    assert.equal(server.faults.overflowFeeds({ db: DB, table: "t" }), 1);
    assert.equal(await reader.cont(1), batch([skipped(3)]));
    await writer.run(insert({ id: 13 }));
    assert.equal(await reader.cont(1), batch(['{"new_val":{"id":13},"old_val":null}']));
    // A held CONTINUE is answered at once.
    const held = reader.cont(1);
    assert.equal(await within(held, 50), undefined);
    assert.equal(server.faults.overflowFeeds(), 1);
    assert.equal(await held, batch([skipped(1)]));
    assert.equal(await reader.query(1, [3]), STOPPED);

    // Armed for the next feed on the table: `ready` first, the report on the first CONTINUE.
    assert.equal(server.faults.overflowFeeds({ db: DB, table: "t" }), 0);
    assert.equal(await reader.query(2, startFeed({}, {}, "u")), batch([]));
    assert.equal(
      await reader.query(3, startFeed({ include_states: true })),
      batch(['{"state":"ready"}'], true),
    );
    assert.equal(await reader.cont(3), batch([skipped(1)], true));
    // Used up: the next feed is left alone.
    assert.equal(
      await reader.query(4, startFeed({ include_states: true })),
      batch(['{"state":"ready"}'], true),
    );
    const held4 = reader.cont(4);
    assert.equal(await within(held4, 100), undefined);
    for (const token of [2, 3]) assert.equal(await reader.query(token, [3]), STOPPED);
    await reader.send(4, [3]);
    assert.deepEqual([await held4, await reader.next(4)], [STOPPED, STOPPED]);

    // reset() disarms.
    assert.equal(server.faults.overflowFeeds(undefined, 5), 0);
    server.faults.reset();
    assert.equal(await reader.query(5, startFeed()), batch([]));
    assert.equal(await within(reader.cont(5), 100), undefined);
  },
  ["u"],
);

feedTest(
  "a restart or a connection cut ends feeds as a lost connection",
  async ({ server }) => {
    const a = await FrameClient.connect(server.port);
    try {
      assert.equal(await a.query(1, startFeed()), batch([]));
      const held = a.cont(1);
      await server.faults.restart({ unavailableMs: 50 });
      assert.equal(await held, null);
      await a.closedByServer();
      assert.equal(server.store.table(DB, "t").feeds.size, 0);
    } finally {
      a.close();
    }
    await server.faults.untilRestarted();

    // Feed items count as documents for closeAfterDocuments.
    const b = await FrameClient.connect(server.port);
    const w = await FrameClient.connect(server.port);
    try {
      assert.equal(await b.query(1, startFeed()), batch([]));
      await w.run(insert(array({ id: 10 }, { id: 11 }, { id: 12 })));
      server.faults.closeAfterDocuments(2);
      assert.equal(await b.cont(1), null);
      assert.equal(server.store.table(DB, "t").feeds.size, 0);
    } finally {
      b.close();
      w.close();
    }
  },
);

feedTest(
  "NOREPLY_WAIT does not wait for a CONTINUE held by a feed",
  async ({ reader }) => {
    assert.equal(await reader.query(1, startFeed()), batch([]));
    const held = reader.cont(1);
    assert.equal(await within(reader.query(2, [4]), 1000), '{"t":4,"r":[]}');
    assert.equal(await within(held, 10), undefined);
  },
);

Deno.test("rethinkdb-ts reads a feed of the test server", async () => {
  const server = await startTestServer();
  const conn = await r.connect({ host: server.host, port: server.port, silent: true });
  try {
    await r.dbCreate(DB).run(conn);
    await r.db(DB).tableCreate("t").run(conn);
    const feed = await r.db(DB).table("t").changes({ includeStates: true, includeTypes: true })
      .run(conn);
    assert.deepEqual(await feed.next(), { state: "ready", type: "state" });
    await r.db(DB).table("t").insert({ id: 1 }).run(conn);
    assert.deepEqual(await feed.next(), { new_val: { id: 1 }, old_val: null, type: "add" });
    await r.db(DB).table("t").get(1).update({ v: 2 }).run(conn);
    assert.deepEqual(await feed.next(), {
      new_val: { id: 1, v: 2 },
      old_val: { id: 1 },
      type: "change",
    });
    await feed.close();
    // The driver sends STOP without waiting for its answer.
    const feeds = server.store.table(DB, "t").feeds;
    for (let i = 0; i < 100 && feeds.size > 0; i++) await sleep(10);
    assert.equal(feeds.size, 0);
  } finally {
    await conn.close();
    await server.close();
  }
});
