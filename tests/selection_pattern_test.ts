/** `*` / `?` patterns, include + exclude filtering, and `-i` selections built on them. */
import assert from "node:assert/strict";
import { UsageError } from "../src/errors.ts";
import { isSelected, parseSelections, unmatchedSelections } from "../src/restore/selection.ts";
import { filterTables } from "../src/selection/filter.ts";
import { globMatches, parsePattern, patternMatches } from "../src/selection/pattern.ts";

Deno.test("globMatches: * is any run, ? one character, the rest literal and whole", () => {
  assert.ok(globMatches("logs_2026_*", "logs_2026_01"));
  assert.ok(globMatches("logs_2026_*", "logs_2026_"));
  assert.ok(!globMatches("logs_2026_*", "logs_2025_01"));
  assert.ok(globMatches("t?", "t1"));
  assert.ok(!globMatches("t?", "t10"));
  assert.ok(!globMatches("t?", "t"));
  assert.ok(globMatches("*", "a-b_c"));
  assert.ok(globMatches("a-*", "a-b"));
  assert.ok(!globMatches("users", "users2"));
  assert.ok(!globMatches("u*s", "usersx"));
});

Deno.test("parsePattern: DB or DB.TABLE, wildcards allowed, other characters refused", () => {
  assert.deepEqual(parsePattern("league.*", "-e"), { db: "league", table: "*", text: "league.*" });
  assert.deepEqual(parsePattern("*", "-i"), { db: "*", text: "*" });
  for (const bad of ["", ".t", "db.", "a.b.c", "a b", "a.[x]", "a.b+"]) {
    assert.throws(() => parsePattern(bad, "--exclude"), (e: Error) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, /^invalid --exclude value/);
      return true;
    });
  }
  const p = parsePattern("*.users", "-i");
  assert.ok(patternMatches(p, "league", "users"));
  assert.ok(!patternMatches(p, "league", "users_old"));
  assert.ok(patternMatches(parsePattern("league", "-i"), "league", "anything"));
});

Deno.test("filterTables: exclude beats include; unmatched patterns are reported", () => {
  const all = [
    { db: "a", table: "x" },
    { db: "a", table: "y" },
    { db: "b", table: "x" },
  ];
  const result = filterTables(
    all,
    [parsePattern("a", "-i"), parsePattern("*.x", "-i"), parsePattern("c*", "-i")],
    [parsePattern("a.x", "--exclude"), parsePattern("z", "--exclude")],
  );
  assert.deepEqual(result.tables, [{ db: "a", table: "y" }, { db: "b", table: "x" }]);
  assert.deepEqual(result.unmatchedIncludes.map((p) => p.text), ["c*"]);
  assert.deepEqual(result.unmatchedExcludes.map((p) => p.text), ["z"]);
  assert.deepEqual(filterTables(all, [], []).tables, all);
});

Deno.test("restore selections accept patterns and excludes", () => {
  const selections = parseSelections(["*.users", "other"]);
  assert.ok(isSelected(selections, "league", "users"));
  assert.ok(isSelected(selections, "other", "hooks_only"));
  assert.ok(!isSelected(selections, "league", "events"));
  assert.ok(!isSelected(selections, "league", "users", parseSelections(["league.u*"])));
  assert.ok(isSelected([], "x", "y"));
  assert.deepEqual(
    unmatchedSelections(parseSelections(["*.users", "nope*"]), [{ db: "l", table: "users" }])
      .map((s) => s.text),
    ["nope*"],
  );
  assert.throws(() => parseSelections(["a.b.c"]), /invalid -i\/--import value `a\.b\.c`/);
});
