/**
 * The header blocks of a regular-file tar entry (ustar, with a pax extended header when the
 * path or size does not fit), as bytes. The archive writer needs headers on their own because
 * an entry's body is compressed before its header is written (see
 * {@link import("./gzip_member.ts")}); modern-tar, which reads our archives, only writes headers
 * inside its own packing stream.
 *
 * @module
 */

const BLOCK = 512;
/** Largest size the 11 octal digits of the ustar size field hold. */
const MAX_OCTAL_SIZE = 8 ** 11 - 1;
const encoder = new TextEncoder();

/** What a regular-file header records. */
export interface TarEntryHeader {
  /** The entry's path (UTF-8). */
  path: string;
  /** Body size in bytes. */
  size: number;
  /** Modification time. */
  mtime: Date;
}

/**
 * The header blocks for `entry` (512 bytes, or more with a pax header), mode 0644, owner 0:0.
 * Paths over 100 bytes go into the ustar prefix field when they split at a `/`, otherwise
 * into a pax `path` record; sizes of 8 GiB and more get a pax `size` record.
 *
 * @example
 * ```ts
 * import { tarHeader } from "./tar_header.ts";
 *
 * const header = tarHeader({ path: "top/db/t.json", size: 4, mtime: new Date(0) });
 * header.length; // 512
 * ```
 */
export function tarHeader(entry: TarEntryHeader): Uint8Array {
  const path = encoder.encode(entry.path);
  const split = splitUstar(path);
  const pax: string[] = [];
  if (!split) pax.push(paxRecord("path", entry.path));
  if (entry.size > MAX_OCTAL_SIZE) pax.push(paxRecord("size", String(entry.size)));
  const mtime = Math.floor(entry.mtime.getTime() / 1000);
  const ustar = ustarBlock(
    split ?? { prefix: new Uint8Array(0), name: path.subarray(0, 100) },
    entry.size,
    mtime,
    "0",
  );
  if (pax.length === 0) return ustar;
  const body = encoder.encode(pax.join(""));
  const paxName = encoder.encode("PaxHeader");
  const paxHeader = ustarBlock(
    { prefix: new Uint8Array(0), name: paxName },
    body.length,
    mtime,
    "x",
  );
  const out = new Uint8Array(BLOCK + padded(body.length) + BLOCK);
  out.set(paxHeader, 0);
  out.set(body, BLOCK);
  out.set(ustar, BLOCK + padded(body.length));
  return out;
}

/** Bytes of zero padding after a body of `size` bytes. */
export function tarPadding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** The end-of-archive marker: two zero blocks. */
export const TAR_END = new Uint8Array(2 * BLOCK);

function padded(size: number): number {
  return size + tarPadding(size);
}

/** Splits a path at a `/` into a prefix of ≤ 155 bytes and a name of ≤ 100, if it must and can. */
function splitUstar(path: Uint8Array): { prefix: Uint8Array; name: Uint8Array } | undefined {
  if (path.length <= 100) return { prefix: new Uint8Array(0), name: path };
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== 0x2f) continue;
    if (i > 155) continue;
    if (path.length - i - 1 > 100) return undefined;
    return { prefix: path.subarray(0, i), name: path.subarray(i + 1) };
  }
  return undefined;
}

/** A pax record: `<length> <key>=<value>\n`, the length counting itself. */
function paxRecord(key: string, value: string): string {
  const rest = encoder.encode(` ${key}=${value}\n`).length;
  let length = rest + String(rest).length;
  if (String(length).length > String(rest).length) length = rest + String(length).length;
  return `${length} ${key}=${value}\n`;
}

function ustarBlock(
  path: { prefix: Uint8Array; name: Uint8Array },
  size: number,
  mtime: number,
  type: string,
): Uint8Array {
  const block = new Uint8Array(BLOCK);
  block.set(path.name, 0);
  octal(block, 100, 8, 0o644);
  octal(block, 108, 8, 0);
  octal(block, 116, 8, 0);
  if (size <= MAX_OCTAL_SIZE) octal(block, 124, 12, size);
  else base256(block, 124, 12, size);
  octal(block, 136, 12, mtime);
  block[156] = type.charCodeAt(0);
  block.set(encoder.encode("ustar\u000000"), 257);
  block.set(path.prefix, 345);
  // The checksum is computed with its own field as spaces, then written as 6 digits, NUL, space.
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  octal(block, 148, 7, sum);
  return block;
}

/** `value` as zero-padded octal digits in `width - 1` bytes, then a NUL. */
function octal(block: Uint8Array, offset: number, width: number, value: number): void {
  block.set(encoder.encode(value.toString(8).padStart(width - 1, "0")), offset);
  block[offset + width - 1] = 0;
}

/** GNU base-256: a leading 0x80, then the value big-endian (for sizes beyond octal). */
function base256(block: Uint8Array, offset: number, width: number, value: number): void {
  block[offset] = 0x80;
  for (let i = offset + width - 1; i > offset; i--) {
    block[i] = value % 256;
    value = Math.floor(value / 256);
  }
}
