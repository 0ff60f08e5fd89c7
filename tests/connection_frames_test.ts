import assert from "node:assert/strict";
import { encodeFrame, FrameReader } from "../src/connection/frames.ts";

function stream(frames: [number, string][]): Uint8Array {
  const parts = frames.map(([token, json]) => encodeFrame(token, json));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
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

Deno.test("FrameReader: a frame within one chunk is returned without copying", () => {
  const reader = new FrameReader();
  const frames = reader.push(stream([[1, '{"t":1,"r":[1]}'], [2, '{"t":1,"r":[2]}']]));
  assert.equal(frames.length, 2);
  assert.equal(reader.bytesCopied, 0);
});

Deno.test("FrameReader: a 30 MB frame in 64 KiB chunks copies at most twice its size", () => {
  const size = 30 * 1024 * 1024;
  const body = new Uint8Array(size).fill(0x61);
  const frame = new Uint8Array(12 + size);
  new DataView(frame.buffer).setUint32(0, 5, true);
  new DataView(frame.buffer).setUint32(8, size, true);
  frame.set(body, 12);
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
