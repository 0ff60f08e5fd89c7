import assert from "node:assert/strict";
import { escapeJsonString } from "../src/connection/json_text.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

Deno.test("escapeJsonString writes what JSON.stringify writes, byte for byte", () => {
  const texts = [
    '[{"id":1,"s":"a \\"quoted\\" \\\\ back\\u0000slash"}]',
    '[\n{"é":"😀 \u2028 \u2029", "tab":"\\t"},\r\n\t{"x":-0.0}\n]',
    "plain text, nothing to escape",
    Array.from({ length: 32 }, (_, c) => String.fromCharCode(c)).join("") + '"\\\u007f',
    "",
  ];
  for (const text of texts) {
    const escaped = escapeJsonString(encoder.encode(text));
    assert.equal(decoder.decode(escaped), JSON.stringify(text).slice(1, -1), JSON.stringify(text));
  }
});

Deno.test("escapeJsonString returns the text itself when nothing needs escaping", () => {
  const bytes = encoder.encode("x".repeat(1000));
  assert.equal(escapeJsonString(bytes), bytes);
});
