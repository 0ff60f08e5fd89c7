import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { r } from "npm:rethinkdb-ts@3.0.0";
import * as q from "../src/connection/reql.ts";

/** The wire JSON of a `rethinkdb-ts` query: the reference each builder is pinned to. */
function reference(query: unknown): string {
  return JSON.stringify((query as { term: unknown }).term);
}

const users = r.db("league").table("users");
const usersTerm = q.table("league", "users");
const blob = "AAECAwQF\r\nBgc=";
const blobBytes = Buffer.from(blob.replace(/[\r\n]/g, ""), "base64");

Deno.test("every query term is the one rethinkdb-ts builds", () => {
  const cases: [string, unknown, unknown][] = [
    ["dbList", q.dbList(), r.dbList()],
    ["dbCreate", q.dbCreate("league"), r.dbCreate("league")],
    ["dbDrop", q.dbDrop("league"), r.dbDrop("league")],
    ["sync", q.sync(usersTerm), users.sync()],
    ["tableDrop", q.tableDrop("league", "users"), r.db("league").tableDrop("users")],
    [
      "tableCreate",
      q.tableCreate("league", "users", { primary_key: "uid", shards: 2, replicas: 1 }),
      r.db("league").tableCreate("users", { primaryKey: "uid", shards: 2, replicas: 1 }),
    ],
    [
      "pluck nested",
      q.pluck(q.table("rethinkdb", "server_status"), { process: ["version"] }),
      r.db("rethinkdb").table("server_status").pluck({ process: ["version"] }),
    ],
    [
      "pluck fields",
      q.pluck(q.table("rethinkdb", "table_config"), "db", "name"),
      r.db("rethinkdb").table("table_config").pluck("db", "name"),
    ],
    ["info", q.info(usersTerm), users.info()],
    ["config", q.config(usersTerm), users.config()],
    ["count", q.count(usersTerm), users.count()],
    [
      "estimates",
      q.sum(q.bracket(q.info(usersTerm), "doc_count_estimates")),
      users.info()("doc_count_estimates").sum(),
    ],
    [
      "update",
      q.update(q.config(usersTerm), { durability: "soft", write_acks: [{ acks: "single" }] }),
      users.config().update({ durability: "soft", write_acks: [{ acks: "single" }] } as never),
    ],
    ["indexStatus", q.indexStatus(usersTerm), users.indexStatus()],
    ["indexWait all", q.indexWait(usersTerm), users.indexWait()],
    ["indexWait named", q.indexWait(usersTerm, ["a", "b"]), users.indexWait("a", "b")],
    [
      "indexCreate",
      q.indexCreate(usersTerm, "by_name", q.binary(blob)),
      users.indexCreate("by_name", r.binary(blobBytes)),
    ],
    ["getWriteHook", q.getWriteHook(usersTerm), users.getWriteHook()],
    [
      "setWriteHook",
      q.setWriteHook(usersTerm, q.binary(blob)),
      users.setWriteHook(r.binary(blobBytes) as never),
    ],
    ["setWriteHook null", q.setWriteHook(usersTerm, null), users.setWriteHook(null as never)],
    ["wait", q.wait(usersTerm, 60), users.wait({ timeout: 60 })],
    ["read", q.orderBy(usersTerm, "uid"), users.orderBy({ index: "uid" })],
    [
      "outdated read resumed after a compound key",
      q.orderBy(
        q.after(q.table("league", "users", { outdated: true }), ["a", 1, { b: [2] }]),
        "uid",
      ),
      r.db("league").table("users", { readMode: "outdated" })
        .between(["a", 1, { b: [2] }], r.maxval, { leftBound: "open" })
        .orderBy({ index: "uid" }),
    ],
    [
      "resumed after a TIME key",
      q.after(usersTerm, { $reql_type$: "TIME", epoch_time: 1.5, timezone: "+00:00" }),
      users.between(
        { $reql_type$: "TIME", epoch_time: 1.5, timezone: "+00:00" },
        r.maxval,
        { leftBound: "open" },
      ),
    ],
    [
      "insert",
      q.insertJson(usersTerm, '[{"uid":1}]', {
        durability: "soft",
        conflict: "error",
        ignore_write_hook: true,
      }),
      users.insert(r.json('[{"uid":1}]'), {
        durability: "soft",
        conflict: "error",
        ignoreWriteHook: true,
      }),
    ],
  ];
  for (const [name, ours, theirs] of cases) {
    assert.equal(JSON.stringify(ours), reference(theirs), name);
  }
});

Deno.test("datum turns arrays into MAKE_ARRAY at every depth and keeps scalars", () => {
  assert.deepEqual(q.datum([1, [2], { a: ["x"] }]), [2, [1, [2, [2]], { a: [2, ["x"]] }]]);
  for (const scalar of ["s", 0, -1.5, true, null]) assert.equal(q.datum(scalar), scalar);
});
