import assert from "node:assert/strict";
import { MAX_SHARDS, planTableConfig } from "../src/archive/table_config.ts";

const saved = { shards: 2, replicas: 3, durability: "soft", write_acks: "majority" };

Deno.test("planTableConfig(): the saved configuration, replicas capped at the servers", () => {
  const plan = planTableConfig("league.users", saved, {}, 5);
  assert.deepEqual(plan.create, { shards: 2, replicas: 3 });
  assert.deepEqual(plan.update, { durability: "soft", write_acks: "majority" });
  assert.deepEqual(plan.warnings, []);
  const small = planTableConfig("league.users", saved, {}, 1);
  assert.deepEqual(small.create, { shards: 2, replicas: 1 });
  assert.deepEqual(small.warnings, [
    "league.users: 3 replicas (from the archive) capped at 1, the number of servers in the cluster",
  ]);
});

Deno.test("planTableConfig(): --shards and --replicas win over the archive", () => {
  const plan = planTableConfig("db.t", saved, { shards: 4, replicas: 2 }, 3);
  assert.deepEqual(plan.create, { shards: 4, replicas: 2 });
  assert.deepEqual(plan.update, { durability: "soft", write_acks: "majority" });
  const capped = planTableConfig("db.t", saved, { replicas: 9 }, 2);
  assert.equal(capped.create.replicas, 2);
  assert.equal(capped.create.shards, 2);
  assert.match(capped.warnings[0], /^db\.t: 9 replicas \(from --replicas\) capped at 2/);
  const many = planTableConfig("db.t", undefined, { shards: 100 }, 1);
  assert.deepEqual(many.create, { shards: MAX_SHARDS });
  assert.match(many.warnings[0], /100 shards \(from --shards\) capped at 64/);
});

Deno.test("planTableConfig(): an official archive saves nothing, so nothing is set", () => {
  const plan = planTableConfig("db.t", undefined, {}, 3);
  assert.deepEqual(plan, { create: {}, update: {}, warnings: [] });
  const only = planTableConfig("db.t", undefined, { replicas: 2 }, 3);
  assert.deepEqual(only, { create: { replicas: 2 }, update: {}, warnings: [] });
});
