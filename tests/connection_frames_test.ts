import assert from "node:assert/strict";
import { encodeFrameParts, FrameReader } from "../src/connection/frames.ts";

function join(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function stream(frames: [number, string][]): Uint8Array {
  return join(frames.flatMap(([token, json]) => encodeFrameParts(token, json)));
}

/** A frame built by hand: token (low 32 bits), length, body. */
function rawFrame(token: number, body: Uint8Array): Uint8Array {
  const frame = new Uint8Array(12 + body.length);
  new DataView(frame.buffer).setUint32(0, token, true);
  new DataView(frame.buffer).setUint32(8, body.length, true);
  frame.set(body, 12);
  return frame;
}

Deno.test("FrameReader: the same frames whatever the chunk boundaries", () => {
  const frames: [number, string][] = [
    [1, '{"t":1,"r":[1]}'],
    [2 ** 40 + 3, '{"t":2,"r":["é \\" x"]}'],
    [7, "{}"],
  ];
  const bytes = stream(frames);
  const decoder = new TextDecoder();
  for (let size = 1; size <= bytes.length; size++) {
    const reader = new FrameReader();
    const got: [number, string][] = [];
    for (let at = 0; at < bytes.length; at += size) {
      for (const frame of reader.push(bytes.subarray(at, at + size))) {
        got.push([frame.token, decoder.decode(frame.body)]);
      }
    }
    assert.deepEqual(got, frames, `chunks of ${size} bytes`);
    assert.equal(reader.buffered, 0);
  }
});

Deno.test("FrameReader: chunks are not kept, so one read buffer serves every read", () => {
  const bytes = stream([[1, '{"t":3,"r":[1]}'], [2, '{"t":3,"r":[22]}'], [3, '{"t":2,"r":[]}']]);
  const reader = new FrameReader();
  const buffer = new Uint8Array(7);
  const got: string[] = [];
  for (let at = 0; at < bytes.length; at += buffer.length) {
    const n = Math.min(buffer.length, bytes.length - at);
    buffer.set(bytes.subarray(at, at + n));
    for (const frame of reader.push(buffer.subarray(0, n))) {
      got.push(new TextDecoder().decode(frame.body));
    }
    buffer.fill(0x7e); // overwritten before the next read
  }
  assert.deepEqual(got, ['{"t":3,"r":[1]}', '{"t":3,"r":[22]}', '{"t":2,"r":[]}']);
  // Each body byte is copied exactly once, out of the read buffer.
  assert.equal(reader.bytesCopied, bytes.length - 3 * 12);
});

Deno.test("FrameReader: a released body's buffer holds a later frame; an unreleased one is never reused", () => {
  const reader = new FrameReader();
  // Pooled bodies are those of 16 KiB and more (smaller ones get a buffer of their size).
  const pad = "x".repeat(20_000);
  const [first] = reader.push(stream([[1, `{"t":3,"r":["first${pad}"]}`]]));
  const [kept] = reader.push(stream([[2, `{"t":3,"r":["kept${pad}"]}`]]));
  assert.notEqual(first.body.buffer, kept.body.buffer);
  reader.release(first.body);
  reader.release(first.body); // twice is harmless
  const [third] = reader.push(stream([[3, `{"t":3,"r":["third${pad}"]}`]]));
  assert.equal(third.body.buffer, first.body.buffer, "the released buffer is reused");
  const [fourth] = reader.push(stream([[4, `{"t":2,"r":["fourth${pad}"]}`]]));
  assert.notEqual(fourth.body.buffer, third.body.buffer, "a buffer in use is not handed out twice");
  assert.notEqual(fourth.body.buffer, kept.body.buffer);
  assert.equal(new TextDecoder().decode(kept.body), `{"t":3,"r":["kept${pad}"]}`);
  // A body the reader did not allocate is not taken in.
  const foreign = new TextEncoder().encode('{"t":1,"r":[0]}');
  reader.release(foreign);
  const [fifth] = reader.push(stream([[5, `{"t":1,"r":["${pad}"]}`]]));
  assert.notEqual(fifth.body.buffer, foreign.buffer);
});

Deno.test("FrameReader: a body too large to pool is freed once released, and only then", () => {
  const size = 5 * 1024 * 1024;
  const reader = new FrameReader();
  const [large] = reader.push(rawFrame(6, new Uint8Array(size).fill(0x61)));
  const [other] = reader.push(rawFrame(7, new Uint8Array(size).fill(0x62)));
  assert.equal(large.body.length, size);
  reader.release(large.body);
  assert.equal(large.body.buffer.byteLength, 0, "its memory is given back at once");
  reader.release(large.body); // twice is harmless
  assert.equal(other.body.length, size, "another large body in use is untouched");
  assert.equal(other.body[size - 1], 0x62);
});

Deno.test("FrameReader: a 30 MB frame in 64 KiB chunks copies at most twice its size", () => {
  const size = 30 * 1024 * 1024;
  const frame = rawFrame(5, new Uint8Array(size).fill(0x61));
  const reader = new FrameReader();
  const got = [];
  for (let at = 0; at < frame.length; at += 65536) {
    got.push(...reader.push(frame.subarray(at, at + 65536)));
  }
  assert.equal(got.length, 1);
  assert.equal(got[0].token, 5);
  assert.equal(got[0].body.length, size);
  assert.ok(reader.bytesCopied <= 2 * size, `copied ${reader.bytesCopied} bytes`);
});

Deno.test("FrameReader: a large frame is read in place, then the frames after it", () => {
  const size = 3 * 1024 * 1024;
  const body = new Uint8Array(size).fill(0x62);
  const bytes = rawFrame(9, body);
  const after = stream([[10, '{"t":2,"r":[]}']]);
  const reader = new FrameReader();
  // The first read holds the header and a little of the body.
  assert.deepEqual(reader.push(bytes.subarray(0, 1000)), []);
  let copied = reader.bytesCopied;
  assert.equal(copied, 1000 - 12);
  let at = 1000;
  while (reader.target) {
    const target = reader.target;
    const n = Math.min(target.length, 200_000);
    target.set(bytes.subarray(at, at + n));
    at += n;
    const frames = reader.filled(n);
    if (at < bytes.length) assert.deepEqual(frames, []);
    else {
      assert.equal(frames.length, 1);
      assert.equal(frames[0].token, 9);
      assert.deepEqual(frames[0].body, body);
      // The body is a buffer of the reader's, not a view of what was pushed.
      assert.notEqual(frames[0].body.buffer, bytes.buffer);
    }
  }
  assert.equal(at, bytes.length);
  assert.equal(reader.bytesCopied, copied, "bytes read in place are not copied");
  // A chunk that ends a large frame and starts the next one works through push() too.
  const reader2 = new FrameReader();
  reader2.push(bytes.subarray(0, 5000));
  copied = reader2.bytesCopied;
  const rest = new Uint8Array(bytes.length - 5000 + after.length);
  rest.set(bytes.subarray(5000));
  rest.set(after, bytes.length - 5000);
  const frames = reader2.push(rest);
  assert.deepEqual(frames.map((f) => f.token), [9, 10]);
  assert.equal(reader2.buffered, 0);
  assert.equal(reader2.target, undefined);
});

Deno.test("encodeFrameParts: a large body is written apart from its header, same bytes", () => {
  const json = `["${"z".repeat(2 * 1024 * 1024)}"]`;
  const parts = encodeFrameParts(7, json);
  assert.equal(parts.length, 2);
  assert.equal(parts[0].length, 12);
  const joined = join(parts);
  assert.deepEqual(joined, rawFrame(7, new TextEncoder().encode(json)));
  const [frame] = new FrameReader().push(joined);
  assert.equal(frame.token, 7);
  assert.equal(new TextDecoder().decode(frame.body), json);
  assert.equal(encodeFrameParts(7, "[2]").length, 1);
});

Deno.test("FrameReader: a small body gets a buffer of its own size; a larger one a pooled buffer", () => {
  const reader = new FrameReader();
  const frame = (token: number, body: string) => {
    const bytes = new TextEncoder().encode(body);
    const out = new Uint8Array(12 + bytes.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, token, true);
    view.setUint32(8, bytes.length, true);
    out.set(bytes, 12);
    return out;
  };
  // A thousand small answers held at once (a thousand feeds stopped together) cost their size.
  const held = [];
  for (let token = 1; token <= 1000; token++) {
    const [answer] = reader.push(frame(token, `{"t":2,"r":[]}`));
    assert.equal(answer.body.buffer.byteLength, answer.body.length);
    held.push(answer);
  }
  assert.equal(held.length, 1000);
  const large = reader.push(frame(1001, `[${"1,".repeat(20_000)}1]`))[0];
  assert.ok(large.body.buffer.byteLength >= 64 * 1024);
  const length = large.body.length;
  const buffer = large.body.buffer;
  reader.release(large.body);
  // Released, the pooled buffer holds the next large frame.
  const next = reader.push(frame(1002, `[${"2,".repeat(20_000)}2]`))[0];
  assert.equal(next.body.length, length);
  assert.equal(next.body.buffer, buffer);
});
