/** The pure restore plan: selection, renames, existing tables, --force, dry-run output. */
import assert from "node:assert/strict";
import type { TableMetadata } from "../src/archive/table_info.ts";
import { UsageError } from "../src/errors.ts";
import { describeExisting, dryRunExitCode, formatPlan, planRestore } from "../src/restore/plan.ts";
import { parseRenames, targetOf } from "../src/restore/rename.ts";

function meta(extra: Partial<TableMetadata> = {}): TableMetadata {
  return { primaryKey: "id", indexes: [], droppedIndexes: [], writeHook: null, raw: {}, ...extra };
}

const binary = { $reql_type$: "BINARY" as const, data: "AAAA" };
const tables = [
  { db: "league", table: "users", meta: meta({ primaryKey: "uid" }), documents: 3 },
  {
    db: "league",
    table: "events",
    meta: meta({
      indexes: [{
        index: "at",
        function: binary,
        geo: false,
        multi: false,
        outdated: false,
        ready: true,
        query: "",
      }],
      writeHook: { function: binary, query: "hook" },
    }),
  },
  { db: "other", table: "users", meta: meta(), documents: 0 },
];

const summary = (plan: ReturnType<typeof planRestore>) =>
  plan.entries.map((e) =>
    `${e.source.db}.${e.source.table}>${e.target.db}.${e.target.table}:${e.action}`
  );

Deno.test("parseRenames: DB=DB or DB.TABLE=DB.TABLE, valid names, no wildcards", () => {
  assert.deepEqual(parseRenames(["league=league_restored", "league.users=staging.users_0923"]), [
    { from: { db: "league" }, to: { db: "league_restored" }, text: "league=league_restored" },
    {
      from: { db: "league", table: "users" },
      to: { db: "staging", table: "users_0923" },
      text: "league.users=staging.users_0923",
    },
  ]);
  const bad: [string, RegExp][] = [
    ["league", /expected FROM=TO/],
    ["league=other.users", /rename a DB to a DB or a DB.TABLE to a DB.TABLE/],
    ["league.users=other", /rename a DB to a DB/],
    ["league*=x", /no wildcards/],
    ["league=", /is not DB or DB.TABLE/],
    ["a=b c", /is not DB or DB.TABLE/],
  ];
  for (const [text, pattern] of bad) {
    assert.throws(() => parseRenames([text]), (e: Error) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, pattern);
      return true;
    });
  }
});

Deno.test("targetOf: a table rename beats its database's rename", () => {
  const renames = parseRenames(["league=l2", "league.users=staging.u"]);
  assert.deepEqual(targetOf(renames, "league", "users"), { db: "staging", table: "u" });
  assert.deepEqual(targetOf(renames, "league", "events"), { db: "l2", table: "events" });
  assert.deepEqual(targetOf(renames, "other", "users"), { db: "other", table: "users" });
});

Deno.test("planRestore: create, blocked without --force, insert with it, by target name", () => {
  const existing = new Set(["league.users", "l2.events"]);
  const plain = planRestore({ tables, existing });
  assert.deepEqual(summary(plain), [
    "league.events>league.events:create",
    "league.users>league.users:blocked",
    "other.users>other.users:create",
  ]);
  assert.equal(plain.refusals.length, 1);
  assert.match(plain.refusals[0], /^table league\.users already exists; nothing was written/);
  const forced = planRestore({ tables, existing, force: true });
  assert.deepEqual(forced.refusals, []);
  assert.equal(forced.entries.find((e) => e.source.table === "users")?.action, "insert");
  const renamed = planRestore({ tables, existing, renames: ["league=l2"] });
  assert.deepEqual(summary(renamed), [
    "league.events>l2.events:blocked",
    "league.users>l2.users:create",
    "other.users>other.users:create",
  ]);
  assert.match(renamed.refusals[0], /^table l2\.events already exists/);
});

Deno.test("planRestore: -i patterns, --exclude and their messages", () => {
  const plan = planRestore({
    tables,
    imports: ["*.users", "league.e*"],
    excludes: ["other", "nothing_*"],
    existing: new Set(),
  });
  assert.deepEqual(summary(plan), [
    "league.events>league.events:create",
    "league.users>league.users:create",
  ]);
  assert.deepEqual(plan.warnings, ["--exclude `nothing_*` matches no selected table"]);
  assert.deepEqual(plan.refusals, []);
  const missing = planRestore({ tables, imports: ["x*"], existing: new Set() });
  assert.deepEqual(missing.refusals, [
    "-i x*: not in the archive (it holds league.events, league.users, other.users)",
  ]);
});

Deno.test("planRestore: two sources onto one target, and a FROM not restored, are refusals", () => {
  const collide = planRestore({
    tables,
    renames: ["other=league"],
    existing: new Set(),
  });
  assert.deepEqual(collide.refusals, [
    "league.users and other.users would both be restored into league.users; change --rename",
  ]);
  const twoRenames = planRestore({
    tables,
    renames: ["league.users=s.t", "other.users=s.t"],
    existing: new Set(),
  });
  assert.equal(twoRenames.refusals.length, 1);
  assert.match(twoRenames.refusals[0], /would both be restored into s\.t/);
  const notThere = planRestore({
    tables,
    excludes: ["other"],
    renames: ["other=o2", "nope.t=a.b"],
    existing: new Set(),
  });
  assert.deepEqual(notThere.refusals, [
    "--rename other=o2: `other` is not among the tables being restored",
    "--rename nope.t=a.b: `nope.t` is not among the tables being restored",
  ]);
});

Deno.test("formatPlan and the dry-run exit code", () => {
  const plan = planRestore({
    tables,
    renames: ["league.users=staging.users_0923"],
    existing: new Set(["other.users"]),
  });
  // Sorted by target name: other.users comes before staging.users_0923.
  assert.deepEqual(formatPlan(plan), [
    "league.events: would create; documents unknown; primary key id; indexes: at; write hook: yes",
    "other.users: exists: in the way (--force would insert into it); 0 documents; primary key id; indexes: none; write hook: no",
    "league.users -> staging.users_0923: would create; 3 documents; primary key uid; indexes: none; write hook: no",
    "refused: table other.users already exists; nothing was written. Use --force to insert into existing tables (documents with the same primary key are replaced), --rename, or -i/--exclude to restore other tables",
  ]);
  assert.equal(dryRunExitCode(plan), 1);
  const forced = planRestore({ tables, existing: new Set(["other.users"]), force: true });
  const lines = formatPlan(forced);
  assert.equal(lines[2].startsWith("other.users: exists, --force would insert into it;"), true);
  assert.equal(lines.at(-1), "dry run: the restore would write 3 tables");
  assert.equal(dryRunExitCode(forced), 0);
});

Deno.test("describeExisting: names ten of many existing tables, with the total, on one line", () => {
  const names = Array.from({ length: 1000 }, (_, i) => `many.t${i}`);
  const line = describeExisting(names);
  assert.match(
    line,
    /^tables many\.t0, many\.t1, .*many\.t9, … \(1000 in all\) already exist; nothing was written\. Use --force/,
  );
  assert.ok(line.length < 400, `${line.length} characters`);
  assert.ok(!line.includes("\n"));
  assert.match(describeExisting(["league.users"]), /^table league\.users already exists;/);
});
