/**
 * The combination of two CRC-32s (the gzip trailer's checksum): the archive is one gzip member
 * assembled from pieces compressed apart (see {@link import("./gzip_member.ts")}), so the
 * member's CRC is combined from the pieces' CRCs, which the compression workers compute, instead
 * of hashing the whole tar again. Pure arithmetic: the main thread needs no zlib for it.
 *
 * @module
 */

/** The reflected CRC-32 polynomial. */
const POLYNOMIAL = 0xedb88320;

/** a(x) · b(x) mod p(x), both as reflected 32-bit polynomials. */
function multiplyModP(a: number, b: number): number {
  let product = 0;
  for (let bit = 0x80000000; bit !== 0; bit >>>= 1) {
    if (a & bit) product ^= b;
    b = b & 1 ? (b >>> 1) ^ POLYNOMIAL : b >>> 1;
  }
  return product >>> 0;
}

/** X_POWERS[k] = x^(2^k) mod p(x). */
const X_POWERS = (() => {
  const powers = new Uint32Array(64);
  let p = 0x40000000; // x^1
  for (let k = 0; k < powers.length; k++) {
    powers[k] = p;
    p = multiplyModP(p, p);
  }
  return powers;
})();

/** x^(8·bytes) mod p(x): appending `bytes` zero bytes multiplies a CRC's polynomial by it. */
function shiftForBytes(bytes: number): number {
  let result = 0x80000000; // x^0
  // 8 · bytes = 2^3 · bytes, so the powers start at x^(2^3).
  for (let k = 3, n = bytes; n > 0; k++, n = Math.floor(n / 2)) {
    if (n % 2 === 1) result = multiplyModP(X_POWERS[k % 64], result);
  }
  return result;
}

/**
 * The CRC-32 of A followed by B, from the CRC of A, the CRC of B and the length of B in bytes
 * (any safe integer), without the bytes themselves.
 *
 * @example
 * ```ts
 * import { crc32 } from "node:zlib";
 * import { crc32Combine } from "./crc32.ts";
 *
 * const a = new TextEncoder().encode("12345");
 * const b = new TextEncoder().encode("6789");
 * crc32Combine(crc32(a), crc32(b), b.length) === crc32(new TextEncoder().encode("123456789")); // true
 * ```
 */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB === 0) return crcA >>> 0;
  return (multiplyModP(shiftForBytes(lengthB), crcA >>> 0) ^ crcB) >>> 0;
}
