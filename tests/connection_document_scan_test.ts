/** The SIMD fast path of the document scanner, against a byte-by-byte reference. */
import assert from "node:assert/strict";
import { FAST_SCAN_MAX_BODY, FastDocumentScanner } from "../src/connection/document_scan.ts";
import { assemble, generated } from "../scripts/build_wasm.ts";
import { sharedDir } from "./support/shared.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const JOIN = encoder.encode(",\n");

/** The fast scan of `body`, by a scanner of its own (as each read has). */
function fastScanDocuments(body: Uint8Array, open: number, join?: Uint8Array) {
  const scanner = FastDocumentScanner.acquire();
  try {
    const found = scanner.scan(body, open, join);
    // Copied out: the views are valid only until the scanner's next use.
    return found && {
      ...found,
      starts: found.starts.slice(),
      ends: found.ends.slice(),
      joined: found.joined && decoder.decode(found.joined),
    };
  } finally {
    scanner.release();
  }
}

/** The documents of the `r` array whose `[` is at `open`, one byte at a time. */
function reference(body: Uint8Array, open: number): { bounds: [number, number][]; end: number } {
  const bounds: [number, number][] = [];
  let depth = 0;
  let start = 0;
  let inString = false;
  for (let p = open + 1; p < body.length; p++) {
    const byte = body[p];
    if (inString) {
      if (byte === 0x5c) p++;
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) inString = true;
    else if (byte === 0x7b || byte === 0x5b) {
      if (depth++ === 0) start = p;
    } else if (byte === 0x7d || byte === 0x5d) {
      if (depth === 0) return { bounds, end: p + 1 };
      if (--depth === 0) bounds.push([start, p + 1]);
    }
  }
  throw new Error("unterminated");
}

function assertSameAsReference(text: string): void {
  const body = encoder.encode(text);
  const open = text.indexOf('"r":[') + 4;
  const fast = fastScanDocuments(body, open, JOIN);
  assert.ok(fast, `the fast path declined ${text.slice(0, 200)}`);
  const expected = reference(body, open);
  assert.equal(fast.end, expected.end);
  assert.deepEqual(
    Array.from({ length: fast.count }, (_, i) => [fast.starts[i], fast.ends[i]]),
    expected.bounds,
  );
  // Joined: the documents' own bytes with ",\n" between each two.
  const docs = expected.bounds.map(([start, end]) => decoder.decode(body.subarray(start, end)));
  assert.equal(fast.joined, docs.join(",\n"));
}

/** A deterministic generator (xorshift), so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

const NASTY = ['"', "\\", "\\\\", '\\"', "{", "}", "[", "]", ",", "é", "😀", "\u0000", "a", " "];

function nastyString(next: () => number): string {
  let out = "";
  const parts = Math.floor(next() * 40);
  for (let i = 0; i < parts; i++) {
    const piece = NASTY[Math.floor(next() * NASTY.length)];
    out += next() < 0.1 ? piece.repeat(1 + Math.floor(next() * 70)) : piece;
  }
  return out;
}

function value(next: () => number, depth: number): unknown {
  const kind = Math.floor(next() * (depth > 3 ? 4 : 6));
  if (kind === 0) return nastyString(next);
  if (kind === 1) return Math.floor(next() * 1e6) / 7;
  if (kind === 2) return next() < 0.5;
  if (kind === 3) return null;
  if (kind === 4) {
    return Array.from({ length: Math.floor(next() * 4) }, () => value(next, depth + 1));
  }
  const object: Record<string, unknown> = {};
  for (let i = Math.floor(next() * 4); i > 0; i--) {
    object[nastyString(next)] = value(next, depth + 1);
  }
  return object;
}

Deno.test("the embedded module is document_scan.wat assembled", async () => {
  const committed = await Deno.readTextFile(
    new URL("../src/connection/document_scan_wasm.ts", import.meta.url),
  );
  assert.equal(committed, generated(await assemble()), "run deno task build-wasm");
});

Deno.test("fast scan: every recorded RethinkDB 2.4.4 read response, as the reference", async () => {
  const text = await Deno.readTextFile(
    new URL("rethinkdb-2.4.4/wire/raw-frames.jsonl", sharedDir()),
  );
  const bodies = text.split("\n").filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line)).map((record) => record.body)
    .filter((body) => typeof body === "string" && /^\{"t":[123],"r":\[[[{\]]/.test(body));
  assert.ok(bodies.length >= 4);
  for (const body of bodies) assertSameAsReference(body);
});

Deno.test("fast scan: random documents with escapes, quotes and brackets in strings", () => {
  const next = random(0x2545f491);
  for (let round = 0; round < 1500; round++) {
    const docs = Array.from({ length: 1 + Math.floor(next() * 12) }, () => {
      const doc = value(next, 0);
      return JSON.stringify(typeof doc === "object" && doc !== null ? doc : { v: doc });
    });
    // The prefix moves the documents across the scanner's 64-byte steps.
    const prefix = `{"t":3,"p":"${"x".repeat(Math.floor(next() * 64))}","r":[`;
    assertSameAsReference(`${prefix}${docs.join(",")}],"n":[]}`);
  }
});

Deno.test("fast scan: backslash runs and quotes at every position of a 64-byte step", () => {
  for (let run = 1; run <= 130; run++) {
    for (const shift of [0, 1, 31, 62, 63]) {
      const doc = JSON.stringify({ id: "p".repeat(shift) + "\\".repeat(run) + '"}]', x: [{}] });
      assertSameAsReference(`{"t":2,"r":[${doc},${doc}]}`);
    }
  }
});

Deno.test("fast scan: whitespace between documents, empty arrays and nested arrays", () => {
  assertSameAsReference('{"t":2,"r":[]}');
  assertSameAsReference('{"t":2,"r":[ \n{"a":[1,[2]]} ,\t[3,{"b":"]"}] ]}');
});

Deno.test("fast scan: joins with separators of 0 to 4 bytes, and reads in parallel keep their own", () => {
  const body = encoder.encode('{"t":2,"r":[{"a":1}, {"b":[2]},{"c":"x"}]}');
  for (const separator of ["", ",", ",\n", "<=>", "\r\n,,"]) {
    const found = fastScanDocuments(body, 11, encoder.encode(separator));
    assert.equal(found?.joined, ['{"a":1}', '{"b":[2]}', '{"c":"x"}'].join(separator));
  }
  assert.equal(fastScanDocuments(body, 11)?.joined, undefined, "no separator, no join");
  const first = FastDocumentScanner.acquire();
  const second = FastDocumentScanner.acquire();
  try {
    const a = first.scan(body, 11, JOIN)!;
    second.scan(encoder.encode('{"t":2,"r":[{"zzzzzzzz":0}]}'), 11, JOIN);
    assert.equal(decoder.decode(a.joined), '{"a":1},\n{"b":[2]},\n{"c":"x"}');
    assert.deepEqual([...a.starts], [12, 21, 31]);
  } finally {
    first.release();
    second.release();
  }
});

Deno.test("fast scan: declines what the general scanner must judge", () => {
  for (
    const text of [
      '{"t":2,"r":[1,2]}',
      '{"t":2,"r":["a"]}',
      '{"t":2,"r":[{"a":1},]}',
      '{"t":2,"r":[{"a":1}{"b":2}]}',
      '{"t":2,"r":[,{"a":1}]}',
      '{"t":2,"r":[{"a":1},,{"b":2}]}',
      '{"t":2,"r":[{"a":1}}',
      '{"t":2,"r":[{"a":"unterminated}]}',
      '{"t":2,"r":[{"a":1}',
    ]
  ) {
    const body = encoder.encode(text);
    assert.equal(fastScanDocuments(body, 11), undefined, text);
  }
  const large = encoder.encode(`{"t":2,"r":[{"a":"${"x".repeat(FAST_SCAN_MAX_BODY)}"}]}`);
  assert.equal(fastScanDocuments(large, 11), undefined);
});
