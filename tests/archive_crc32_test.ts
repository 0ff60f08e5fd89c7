import assert from "node:assert/strict";
import { crc32 as zlibCrc32 } from "node:zlib";
import { crc32Combine } from "../src/archive/crc32.ts";

/** zlib's CRC-32, the reference the combination is checked against. */
const crc32 = (bytes: Uint8Array) => zlibCrc32(bytes) >>> 0;

Deno.test("crc32: the standard check value", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

Deno.test("crc32Combine equals the CRC of the concatenation, at every split and length", () => {
  const bytes = new Uint8Array(5000);
  let seed = 7;
  for (let i = 0; i < bytes.length; i++) bytes[i] = seed = (seed * 1103515245 + 12345) & 0xff;
  const whole = crc32(bytes);
  for (const split of [0, 1, 2, 3, 7, 8, 511, 512, 513, 1000, 4095, 4999, 5000]) {
    const a = bytes.subarray(0, split);
    const b = bytes.subarray(split);
    assert.equal(crc32Combine(crc32(a), crc32(b), b.length), whole, `split at ${split}`);
  }
});

Deno.test("crc32Combine handles lengths beyond 4 GiB (zero runs checked by doubling)", () => {
  // CRC of n zero bytes after A, computed two ways: by combining halves, and directly.
  const a = crc32(new TextEncoder().encode("rethinkdb"));
  const zeros = new Uint8Array(1 << 20);
  const crcZeros = crc32(zeros);
  // 2^20 zeros appended 2^13 times = 8 GiB, by repeated doubling of the zero run's CRC.
  let runCrc = crcZeros;
  let runLength = zeros.length;
  for (let i = 0; i < 13; i++) {
    runCrc = crc32Combine(runCrc, runCrc, runLength);
    runLength *= 2;
  }
  assert.equal(runLength, 2 ** 33);
  // Appending the 8 GiB run at once, or as two 4 GiB halves, gives the same CRC.
  const half = crc32Combine(crcZeros, crcZeros, zeros.length);
  let halfRun = half;
  let halfLength = 2 * zeros.length;
  for (let i = 0; i < 11; i++) {
    halfRun = crc32Combine(halfRun, halfRun, halfLength);
    halfLength *= 2;
  }
  assert.equal(
    crc32Combine(a, runCrc, runLength),
    crc32Combine(crc32Combine(a, halfRun, halfLength), halfRun, halfLength),
  );
  assert.notEqual(crc32Combine(a, runCrc, runLength), crc32Combine(a, runCrc, runLength - 1));
});
