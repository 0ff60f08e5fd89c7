import assert from "node:assert/strict";
import { scanResponse } from "../src/connection/raw_documents.ts";
import { sharedDir } from "./support/shared.ts";

async function recordedBodies(): Promise<string[]> {
  const text = await Deno.readTextFile(
    new URL("rethinkdb-2.4.4/wire/raw-frames.jsonl", sharedDir()),
  );
  return text.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line))
    .filter((record) => typeof record.body === "string").map((record) => record.body);
}

function check(text: string, primaryKey: string, compact = true): void {
  const body = new TextEncoder().encode(text);
  const parsed = JSON.parse(text) as { t: number; r: unknown[] };
  const { type, batch } = scanResponse(body, primaryKey);
  assert.equal(type, parsed.t);
  assert.equal(batch.count, parsed.r.length);
  const decoder = new TextDecoder();
  const docs: string[] = [];
  for (let i = 0; i < batch.count; i++) {
    const doc = decoder.decode(body.subarray(batch.starts[i], batch.ends[i]));
    assert.deepEqual(JSON.parse(doc), parsed.r[i]);
    docs.push(doc);
  }
  // The documents are exactly the bytes between the array's commas.
  if (compact && batch.count > 0) {
    const first = batch.starts[0];
    const last = batch.ends[batch.count - 1];
    assert.equal(decoder.decode(body.subarray(first, last)), docs.join(","));
  }
  const lastDoc = parsed.r.at(-1) as Record<string, unknown> | undefined;
  assert.deepEqual(batch.lastKey, lastDoc?.[primaryKey]);
}

Deno.test("scanResponse: every recorded RethinkDB 2.4.4 response body", async () => {
  const bodies = await recordedBodies();
  assert.ok(bodies.length >= 3);
  for (const body of bodies) check(body, "id");
  // The recorded read keeps -0.0 and float text byte for byte.
  assert.ok(bodies.some((body) => body.includes('"neg_zero":-0.0')));
});

Deno.test("scanResponse: escapes, raw UTF-8, nesting, key order and whitespace", () => {
  check('{"t":3,"r":[{"id":"a\\"b","x":"\\\\"},{"x":"]}","id":"\\\\\\""}],"n":[]}', "id");
  check('{"r":[{"n":{"id":1},"id":["é","💥",{"a":[]}]}], "t" : 2}', "id", false);
  check('{ "t":2, "r":[ {"id":-0.0} , {"id":1e3 ,"y":null} ] }', "id", false);
  check('{"t":2,"r":[]}', "id");
  const long = "y".repeat(40);
  check(`{"t":2,"r":[{"id":"${long}\\\\","x":"${long}\\"]${long}\\\\\\"}"}]}`, "id");
  check('{"t":2,"r":[{"other":1}]}', "id");
  const { batch } = scanResponse(new TextEncoder().encode('{"t":2,"r":[{"id":-0.0}]}'), "id");
  assert.equal(
    new TextDecoder().decode(batch.frame.subarray(batch.starts[0], batch.ends[0])),
    '{"id":-0.0}',
  );
});

Deno.test("scanResponse: malformed bodies are errors, not wrong boundaries", () => {
  const bodies = [
    '{"t":2,"r":[{"id":"x}]}',
    '{"r":[]}',
    "[1]",
    '{"t":2,"r":[{"id":1}',
    '{"t":2,"r":[{"id":1}{"id":2}]}',
    '{"t":2,"r":[,{"id":1}]}',
    '{"t":2,"r":[{"id":1},]}',
    '{"t":2,"r":[{"id":1},,{"id":2}]}',
    '{"t":2,"r":[}]}',
  ];
  for (const text of bodies) {
    assert.throws(() => scanResponse(new TextEncoder().encode(text), "id"), /malformed response/);
  }
});
