import assert from "node:assert/strict";
import { forEachDocumentKeys } from "../src/inspect/document_keys.ts";

function keysOf(batch: string): string[][] {
  const out: string[][] = [];
  forEachDocumentKeys(new TextEncoder().encode(batch), (i, keys) => (out[i] = keys));
  return out;
}

Deno.test("forEachDocumentKeys: top-level keys only, values skipped whatever they hold", () => {
  const docs = [
    { id: 1, nested: { id: 2, deeper: [{ x: "}" }] }, s: 'a "quoted" } ] string\\' },
    { 'k"ey': [1, [2, { "inner": null }]], "é😀": true, "": -0.5e3 },
    {},
  ];
  const compact = `[${docs.map((d) => JSON.stringify(d)).join(",")}]`;
  const expected = docs.map((d) => Object.keys(d));
  assert.deepEqual(keysOf(compact), expected);
  // The official tool's spacing, and a batch with whitespace between documents.
  const spaced = `[ ${docs.map((d) => JSON.stringify(d, null, 1)).join(" ,\n ")} ]`;
  assert.deepEqual(keysOf(spaced), expected);
  assert.deepEqual(keysOf("[]"), []);
});

Deno.test("forEachDocumentKeys: a 30 MB document's keys without holding it as objects", () => {
  const big = `[{"id":"big","parts":["${"x".repeat(30 << 20)}"],"tail":1}]`;
  assert.deepEqual(keysOf(big), [["id", "parts", "tail"]]);
});
