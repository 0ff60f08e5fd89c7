import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { JsonEntryCheck } from "../src/inspect/json_check.ts";

const encoder = new TextEncoder();

function feedAll(check: JsonEntryCheck, text: string, size: number) {
  const bytes = encoder.encode(text);
  for (let i = 0; i < bytes.length; i += size) check.feed(bytes.subarray(i, i + size));
  return check.end();
}

const docs = Array.from({ length: 2500 }, (_, i) => (i === 1700 ? { x: i } : { id: i, x: i }));
const text = `[\n${docs.map((d) => JSON.stringify(d)).join(",\n")}\n]\n`;

Deno.test("JsonEntryCheck: counts, hashes and finds the first document without the key", () => {
  const sha = createHash("sha256").update(text).digest("hex");
  for (const size of [1, 97, 1 << 20]) {
    const known = new JsonEntryCheck("t.json", { knownPrimaryKey: "id" });
    const observed = feedAll(known, text, size);
    assert.deepEqual(observed, {
      documents: 2500,
      bytes: encoder.encode(text).length,
      sha256: sha,
    });
    assert.equal(known.firstDocumentWithout("id"), 1700);
    // Key not known yet (.json before .info): tracked from the first document's keys.
    const unknown = new JsonEntryCheck("t.json");
    feedAll(unknown, text, size);
    assert.equal(unknown.firstDocumentWithout("id"), 1700);
    assert.equal(unknown.firstDocumentWithout("x"), -1);
    assert.equal(unknown.firstDocumentWithout("nope"), 0);
  }
});

Deno.test("JsonEntryCheck: invalid JSON is reported, the hash still covers every byte", () => {
  const check = new JsonEntryCheck("top/db/t.json");
  const observed = feedAll(check, '[\n{"id":1},\n{"id":2,}\n]\n', 5);
  assert.match(observed.invalid!, /^top\/db\/t\.json: invalid JSON at byte 20: /);
  assert.equal(observed.documents, 1);
  assert.equal(observed.bytes, 24);
  assert.equal(
    observed.sha256,
    createHash("sha256").update('[\n{"id":1},\n{"id":2,}\n]\n').digest("hex"),
  );
  const cut = new JsonEntryCheck("t.json").end();
  assert.equal(cut.invalid, "t.json: holds no JSON array (the entry is empty)");
  const empty = new JsonEntryCheck("t.json", { hash: false, primaryKey: false });
  assert.deepEqual(feedAll(empty, "[\n]\n", 2), { documents: 0, bytes: 4 });
  assert.equal(empty.firstDocumentWithout("id"), -1);
});

Deno.test("JsonEntryCheck: a .json must be a JSON array", () => {
  const ndjson = feedAll(new JsonEntryCheck("t.json"), '{"id":1}\n{"id":2}\n', 3);
  assert.equal(ndjson.invalid, "t.json: not a JSON array (byte 0 is not '[')");
  const spaces = feedAll(new JsonEntryCheck("t.json"), "  \n", 1);
  assert.equal(spaces.invalid, "t.json: holds no JSON array (only whitespace)");
  const bom = feedAll(new JsonEntryCheck("t.json"), '\ufeff [{"id":1}]', 1);
  assert.equal(bom.invalid, undefined);
  assert.equal(bom.documents, 1);
});
