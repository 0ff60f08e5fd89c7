import assert from "node:assert/strict";
import {
  type DocumentBatch,
  DocumentScanner,
  DocumentsEncoder,
  splitDocuments,
  type SplitDocumentsOptions,
} from "../src/archive/documents.ts";
import { ArchiveError } from "../src/archive/errors.ts";
import { scanResponse } from "../src/connection/raw_documents.ts";
import { Buffer } from "node:buffer";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function streamOf(bytes: Uint8Array, chunkSize = bytes.length || 1): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + chunkSize));
      offset += chunkSize;
    },
  });
}

async function split(
  input: string | Uint8Array,
  options?: SplitDocumentsOptions & { chunkSize?: number },
): Promise<DocumentBatch[]> {
  const bytes = typeof input === "string" ? encoder.encode(input) : input;
  const batches: DocumentBatch[] = [];
  for await (
    const batch of splitDocuments(streamOf(bytes, options?.chunkSize), "db/t.json", options)
  ) {
    batches.push(batch);
  }
  return batches;
}

/** The documents' texts, from the batches' JSON arrays (checked to parse). */
async function texts(
  input: string | Uint8Array,
  options?: SplitDocumentsOptions & { chunkSize?: number },
) {
  const docs: unknown[] = [];
  for (const batch of await split(input, options)) {
    const parsed = JSON.parse(batch.json);
    assert.equal(parsed.length, batch.count);
    docs.push(...parsed);
  }
  return docs;
}

async function rejects(
  input: string | Uint8Array,
  message: string | RegExp,
  options?: SplitDocumentsOptions & { chunkSize?: number },
) {
  await assert.rejects(split(input, options), (error: unknown) => {
    assert.ok(error instanceof ArchiveError, String(error));
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

Deno.test("DocumentsEncoder writes the official layout", () => {
  const e = new DocumentsEncoder();
  const parts = [
    e.begin(),
    e.encode([{ id: 1, s: "é" }]),
    e.encode([]),
    e.encode([{ id: 2 }, { id: 3 }]),
    e.end(),
  ];
  const text = decoder.decode(new Uint8Array(parts.flatMap((p) => [...p])));
  assert.equal(text, '[\n{"id":1,"s":"é"},\n{"id":2},\n{"id":3}\n]\n');
  assert.equal(e.documents, 3);
  assert.equal(e.bytes, encoder.encode(text).length);
  const empty = new DocumentsEncoder();
  assert.equal(decoder.decode(new Uint8Array([...empty.begin(), ...empty.end()])), "[\n]\n");
  assert.equal(empty.bytes, 4);
  assert.equal(empty.documents, 0);
});

Deno.test("DocumentsEncoder output is split back into the same documents", async () => {
  const docs = [
    { id: "a", n: 1.5, t: { $reql_type$: "TIME", epoch_time: 1600000000, timezone: "+00:00" } },
    { id: '😀\u0000\n"\\', nested: [[[{}]]], big: 2 ** 53, lone: "\ud800" },
    { id: 3, nul: null, yes: true, no: false, neg: -0.5e-10 },
  ];
  const e = new DocumentsEncoder();
  const bytes = new Uint8Array([
    ...e.begin(),
    ...e.encode(docs.slice(0, 1)),
    ...e.encode(docs.slice(1)),
    ...e.end(),
  ]);
  assert.deepEqual(JSON.parse(decoder.decode(bytes)), docs);
  for (const chunkSize of [1, 2, 3, 7, 1024]) {
    assert.deepEqual(await texts(bytes, { chunkSize }), docs);
  }
});

Deno.test("splitDocuments() accepts the array format with any whitespace", async () => {
  assert.deepEqual(await texts('[\n{"id": 1},\n{"id": 2}\n]\n'), [{ id: 1 }, { id: 2 }]);
  assert.deepEqual(await texts('[{"id":1},{"id":2}]'), [{ id: 1 }, { id: 2 }]);
  assert.deepEqual(await texts(' \r\n\t[ {"id" :\t1 } ,\r\n{ "id":2}\n\n] \n\n'), [{ id: 1 }, {
    id: 2,
  }]);
  assert.deepEqual(await texts('\ufeff[{"id":1}]'), [{ id: 1 }]);
});

Deno.test("splitDocuments() accepts NDJSON and concatenated documents", async () => {
  assert.deepEqual(await texts('{"id": 1}\n{"id": 2}\n'), [{ id: 1 }, { id: 2 }]);
  assert.deepEqual(await texts('{"id": 1}\r\n{"id": 2}'), [{ id: 1 }, { id: 2 }]);
  assert.deepEqual(await texts('{"id":1}{"id":2} {"id":3}'), [{ id: 1 }, { id: 2 }, { id: 3 }]);
});

Deno.test("splitDocuments() reads empty entries", async () => {
  for (const text of ["[\n]\n", "[]", " [ ] ", "", "\n", "\ufeff[]"]) {
    assert.deepEqual(await split(text), [], JSON.stringify(text));
  }
});

Deno.test("splitDocuments() keeps each document's text byte for byte", async () => {
  const docs = [
    '{"id": 9007199254740993, "f": 1.0000000000000000001, "e": 1E400}',
    '{ "id" : "\\u00c5\\ud83d\\ude00" , "x" : [ 1 , { } , [ ] ] }',
    '{"id":"Å😀","z":-0,"w":0.5e+3,"v":-1E-2}',
  ];
  const batches = await split(`[\n${docs.join(",\n")}\n]\n`);
  assert.equal(batches.length, 1);
  assert.equal(batches[0].json, `[${docs.join(",")}]`);
  assert.equal(batches[0].count, 3);
  assert.equal(batches[0].bytes, docs.reduce((n, d) => n + encoder.encode(d).length, 0));
  assert.equal(batches[0].firstDocument, 0);
});

Deno.test("splitDocuments() handles UTF-8 split across 1-byte chunks", async () => {
  const text = '[{"id":"Å😀€\u0080\u07ff\u0800\uffff","k":"\\u20ac"},\n{"id":"日本語"}]';
  const bytes = encoder.encode(text);
  const expected = JSON.parse(text);
  for (const chunkSize of [1, 2, 3, 5]) {
    const batches = await split(bytes, { chunkSize });
    assert.deepEqual(batches.flatMap((b) => JSON.parse(b.json)), expected);
    assert.equal(
      batches[0].json,
      '[{"id":"Å😀€\u0080\u07ff\u0800\uffff","k":"\\u20ac"},{"id":"日本語"}]',
    );
  }
});

Deno.test("splitDocuments() batches by document count", async () => {
  const docs = Array.from({ length: 25 }, (_, i) => `{"id":${i}}`);
  const text = `[\n${docs.join(",\n")}\n]\n`;
  const batches = await split(text, { batchDocuments: 10 });
  assert.deepEqual(batches.map((b) => b.count), [10, 10, 5]);
  assert.deepEqual(batches.map((b) => b.firstDocument), [0, 10, 20]);
  assert.deepEqual(batches.flatMap((b) => JSON.parse(b.json)), docs.map((d) => JSON.parse(d)));
  assert.equal(batches[2].endOffset, text.length - 3);
  assert.equal(batches[0].endOffset, text.indexOf(`{"id":10}`) - 2);
  // The default: 1000 documents.
  const many = Array.from({ length: 2500 }, (_, i) => `{"id":${i}}`).join("\n");
  assert.deepEqual((await split(many)).map((b) => b.count), [1000, 1000, 500]);
});

Deno.test("splitDocuments() batches by bytes, a large document alone", async () => {
  const small = (i: number) => `{"id":${i},"pad":"${"x".repeat(80)}"}`; // ~95 bytes
  const large = `{"id":"large","pad":"${"y".repeat(1000)}"}`;
  const docs = [
    small(1),
    small(2),
    small(3),
    large,
    small(4),
    small(5),
    small(6),
    small(7),
    small(8),
    small(9),
    small(10),
    small(11),
    small(12),
  ];
  for (const chunkSize of [1, 64, 100000]) {
    const batches = await split(docs.join("\n"), { batchBytes: 400, chunkSize });
    assert.deepEqual(batches.flatMap((b) => JSON.parse(b.json)), docs.map((d) => JSON.parse(d)));
    assert.deepEqual(batches.map((b) => b.count), [3, 1, 4, 4, 1], `chunk size ${chunkSize}`);
    assert.equal(batches[1].json, `[${large}]`);
    assert.equal(batches[1].bytes, large.length);
    assert.deepEqual(batches.map((b) => b.firstDocument), [0, 3, 4, 8, 12]);
    for (const b of batches) {
      assert.equal(
        b.bytes,
        (JSON.parse(b.json) as unknown[]).reduce<number>((n, d) => n + JSON.stringify(d).length, 0),
      );
    }
  }
});

Deno.test("splitDocuments() rejects a document over the size limit", async () => {
  const big = `{"id":1,"pad":"${"x".repeat(200)}"}`;
  await rejects(
    `[\n{"id":0},\n${big}\n]`,
    /^db\/t\.json: document 2 at byte 12 is larger than the limit of 100 bytes \(at least \d+ bytes\)$/,
    { maxDocumentBytes: 100 },
  );
  await rejects(
    `[\n{"id":0},\n${big}\n]`,
    /document 2 at byte 12 is larger than the limit of 100 bytes/,
    {
      maxDocumentBytes: 100,
      chunkSize: 16,
    },
  );
  // Exactly at the limit is accepted.
  assert.equal((await split(big, { maxDocumentBytes: big.length })).length, 1);
  await rejects(big, /larger than the limit/, { maxDocumentBytes: big.length - 1 });
});

Deno.test("splitDocuments() rejects invalid JSON with the byte offset", async () => {
  const cases: [string, string][] = [
    ['[{"id":1},]', "invalid JSON at byte 10: unexpected ']', expected a document (JSON object)"],
    [
      '[{"id":1}{"id":2}]',
      "invalid JSON at byte 9: unexpected '{' after a document, expected ',' or ']'",
    ],
    [
      '[{"id":1}',
      "invalid JSON at byte 9: unexpected end of data, the array is not closed with ']'",
    ],
    [
      '[{"id":1},\n',
      "invalid JSON at byte 11: unexpected end of data, the array is not closed with ']'",
    ],
    ["[", "invalid JSON at byte 1: unexpected end of data, the array is not closed with ']'"],
    [
      '[{"id":1',
      "invalid JSON at byte 8: unexpected end of data inside document 1 (started at byte 1)",
    ],
    [
      '{"id":1}\n{"id":',
      "invalid JSON at byte 15: unexpected end of data inside document 2 (started at byte 9)",
    ],
    ['[{"id":1}]\n{"id":2}', "invalid JSON at byte 11: unexpected '{' after the closing ']'"],
    ["[1]", "invalid JSON at byte 1: document 1 is not a JSON object"],
    ['[{"a":1},"x"]', "invalid JSON at byte 9: document 2 is not a JSON object"],
    ['{"a":1}\n[2]', "invalid JSON at byte 8: document 2 is not a JSON object"],
    ["x", "invalid JSON at byte 0: unexpected 'x', expected '[' or '{'"],
    ['[{"a":01}]', "invalid JSON at byte 7: leading zero in a number"],
    ['[{"a":-}]', "invalid JSON at byte 7: unexpected '}' in a number, expected a digit"],
    ['[{"a":1.}]', "invalid JSON at byte 8: unexpected '}' in a number, expected a digit"],
    ['[{"a":1e}]', "invalid JSON at byte 8: unexpected '}' in a number, expected a digit"],
    ['[{"a":.5}]', "invalid JSON at byte 6: unexpected '.', expected a value"],
    ['[{"a":+1}]', "invalid JSON at byte 6: unexpected '+', expected a value"],
    ['[{"a":1.5.2}]', "invalid JSON at byte 9: unexpected '.', expected ',' or '}'"],
    ['[{"a":NaN}]', "invalid JSON at byte 6: unexpected 'N', expected a value"],
    ['[{"a":tru}]', "invalid JSON at byte 9: unexpected '}', expected 'e' of true"],
    ['[{"a":nul}]', "invalid JSON at byte 9: unexpected '}', expected 'l' of null"],
    ['[{"a":falsey}]', "invalid JSON at byte 11: unexpected 'y', expected ',' or '}'"],
    ['[{"a":"\\x"}]', "invalid JSON at byte 8: invalid escape \\x in a string"],
    ['[{"a":"\\u12G4"}]', "invalid JSON at byte 11: invalid \\u escape: 'G'"],
    ['[{"a":"tab\there"}]', "invalid JSON at byte 10: control character byte 0x09 in a string"],
    ['[{"a":"line\nbreak"}]', "invalid JSON at byte 11: control character byte 0x0a in a string"],
    ["[{'a':1}]", "invalid JSON at byte 2: unexpected ''', expected a key or '}'"],
    ["[{a:1}]", "invalid JSON at byte 2: unexpected 'a', expected a key or '}'"],
    ['[{"a":1,}]', "invalid JSON at byte 8: unexpected '}', expected a key"],
    ['[{"a" 1}]', "invalid JSON at byte 6: unexpected '1', expected ':'"],
    ['[{"a":1]', "invalid JSON at byte 7: unexpected ']', expected ',' or '}'"],
    ['[{"a":[1}]', "invalid JSON at byte 8: unexpected '}', expected ',' or ']'"],
    ['[{"a":[1,]}]', "invalid JSON at byte 9: unexpected ']', expected a value"],
    ['[{"a":[,1]}]', "invalid JSON at byte 7: unexpected ',', expected a value or ']'"],
    ['[{"a":}]', "invalid JSON at byte 6: unexpected '}', expected a value"],
    [
      '[{"a":1}',
      "invalid JSON at byte 8: unexpected end of data, the array is not closed with ']'",
    ],
  ];
  for (const [input, message] of cases) {
    for (const chunkSize of [1, 1000]) {
      await rejects(input, `db/t.json: ${message}`, { chunkSize });
    }
  }
});

Deno.test("splitDocuments() rejects invalid UTF-8 with the byte offset", async () => {
  const prefix = encoder.encode('[{"a":"');
  const suffix = encoder.encode('"}]');
  const cases: [number[], number, string][] = [
    [[0xff], 7, "invalid UTF-8 byte 0xff"],
    [[0x80], 7, "invalid UTF-8 byte 0x80"],
    [[0xc0, 0xaf], 7, "invalid UTF-8 byte 0xc0"], // overlong
    [[0xc3], 8, "invalid UTF-8 byte 0x22"], // truncated sequence
    [[0xe0, 0x80, 0x80], 8, "invalid UTF-8 byte 0x80"], // overlong
    [[0xed, 0xa0, 0x80], 8, "invalid UTF-8 byte 0xa0"], // UTF-16 surrogate
    [[0xf4, 0x90, 0x80, 0x80], 8, "invalid UTF-8 byte 0x90"], // above U+10FFFF
    [[0xf0, 0x9f, 0x98], 10, "invalid UTF-8 byte 0x22"],
    [[0xe2, 0x82, 0x41], 9, "invalid UTF-8 byte 0x41"],
  ];
  for (const [bad, offset, what] of cases) {
    const bytes = new Uint8Array([...prefix, ...bad, ...suffix]);
    for (const chunkSize of [1, 1000]) {
      await rejects(bytes, `db/t.json: invalid JSON at byte ${offset}: ${what}`, { chunkSize });
    }
  }
  // Outside strings, any non-ASCII byte is an error.
  await rejects(
    new Uint8Array([0x5b, 0x7b, 0xc3, 0xa5]),
    "db/t.json: invalid JSON at byte 2: unexpected byte 0xc3, expected a key or '}'",
  );
  await rejects(
    new Uint8Array([0xef, 0xbb, 0x5b]),
    "db/t.json: invalid JSON at byte 2: invalid UTF-8 byte 0x5b",
  );
});

Deno.test("splitDocuments() accepts deep nesting", async () => {
  const depth = 5000;
  const doc = `{"a":${"[".repeat(depth)}${"]".repeat(depth)},"b":${'{"c":'.repeat(depth)}1${
    "}".repeat(depth)
  }}`;
  const batches = await split(`[${doc}]`, { chunkSize: 333 });
  assert.equal(batches[0].json, `[${doc}]`);
});

Deno.test("DocumentScanner counts documents and offsets", () => {
  const scanner = new DocumentScanner("t.json", { batchDocuments: 2 });
  scanner.feed(encoder.encode('[\n{"id":1},\n{"id":'));
  assert.equal(scanner.documents, 1);
  assert.equal(scanner.offset, 18);
  assert.deepEqual(scanner.take(), []);
  scanner.feed(encoder.encode('2},\n{"id":3}\n]\n'));
  assert.equal(scanner.documents, 3);
  const [first] = scanner.take();
  assert.equal(first.json, '[{"id":1},{"id":2}]');
  assert.equal(first.endOffset, 20);
  scanner.end();
  const [second] = scanner.take();
  assert.equal(second.json, '[{"id":3}]');
  assert.equal(second.firstDocument, 2);
});

Deno.test("splitDocuments() cancels the body when the consumer stops", async () => {
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(encoder.encode('{"id":1}\n'));
    },
    cancel() {
      cancelled = true;
    },
  });
  for await (const batch of splitDocuments(body, "t.json", { batchDocuments: 1 })) {
    assert.equal(batch.count, 1);
    break;
  }
  assert.ok(cancelled);
});

Deno.test("DocumentsEncoder.appendRaw: a joined batch is one piece, the same bytes as per document", () => {
  const text = '{"t":3,"r":[{"id":-0.0},{"id":"é"},{"id":[1,{"a":"}"}]}],"n":[]}';
  const frame = new TextEncoder().encode(text);
  const { batch } = scanResponse(frame, "id");
  const docs = Array.from(
    { length: batch.count },
    (_, i) => new TextDecoder().decode(frame.subarray(batch.starts[i], batch.ends[i])),
  );
  const encode = (joined?: string) => {
    const encoder = new DocumentsEncoder();
    const parts: Uint8Array[] = [encoder.begin()];
    const sink = { append: (bytes: Uint8Array) => void parts.push(bytes.slice()) };
    const withJoined = {
      ...batch,
      joined: joined === undefined ? undefined : new TextEncoder().encode(joined),
    };
    encoder.appendRaw(withJoined, sink);
    encoder.appendRaw(withJoined, sink);
    parts.push(encoder.end());
    return { text: new TextDecoder().decode(Buffer.concat(parts)), pieces: parts.length };
  };
  const perDocument = encode();
  assert.equal(perDocument.text, `[\n${[...docs, ...docs].join(",\n")}\n]\n`);
  const joined = encode(docs.join(",\n"));
  assert.equal(joined.text, perDocument.text);
  assert.equal(joined.pieces, 2 + 2 * 2, "a separator and the joined documents per batch");
  // Documents joined some other way are not taken for the entry's layout.
  assert.equal(encode(docs.join(",")).text, perDocument.text);
});
