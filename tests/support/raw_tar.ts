/**
 * Tar archives built byte by byte for tests of broken and hostile input: entries of any type
 * (links, FIFOs), any path, headers whose size lies, gzip that is damaged or cut short.
 *
 * @module
 */

import zlib from "node:zlib";
import { TAR_END, tarHeader, tarPadding } from "../../src/archive/tar_header.ts";

/** One entry of a raw tar. */
export interface RawEntry {
  path: string;
  /** The body (files only). */
  body?: string | Uint8Array;
  /** `"file"` by default. */
  type?: "file" | "symlink" | "hardlink" | "fifo";
  /** Where a link points. */
  linkname?: string;
  /** The size the header claims, when it should not be the body's. */
  claimedSize?: number;
}

const encoder = new TextEncoder();
const TYPEFLAG = { file: "0", hardlink: "1", symlink: "2", fifo: "6" } as const;

/** The header of `entry`, its type flag, link name and checksum patched in. */
function header(entry: RawEntry, size: number): Uint8Array {
  const block = tarHeader({ path: entry.path, size, mtime: new Date(0) });
  const at = block.length - 512; // the ustar block follows any pax header
  block[at + 156] = TYPEFLAG[entry.type ?? "file"].charCodeAt(0);
  if (entry.linkname !== undefined) block.set(encoder.encode(entry.linkname), at + 157);
  block.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + 512; i++) sum += block[i];
  block.set(encoder.encode(sum.toString(8).padStart(6, "0") + "\0 "), at + 148);
  return block;
}

/**
 * A plain tar of `entries`, in order.
 *
 * @example
 * ```ts
 * const tar = rawTar([{ path: "top/db/t.json", type: "symlink", linkname: "/etc/passwd" }]);
 * ```
 */
export function rawTar(entries: RawEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const entry of entries) {
    const body = typeof entry.body === "string" ? encoder.encode(entry.body) : entry.body;
    const size = entry.type === undefined || entry.type === "file" ? body?.length ?? 0 : 0;
    parts.push(header(entry, entry.claimedSize ?? size));
    if (size > 0) {
      parts.push(body!, new Uint8Array(tarPadding(size)));
    }
  }
  parts.push(TAR_END);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) (out.set(part, offset), offset += part.length);
  return out;
}

/**
 * `rawTar(entries)` gzipped.
 *
 * @example
 * ```ts
 * const gz = rawTarGz([{ path: "top/db/t.json", body: "[]" }]);
 * ```
 */
export function rawTarGz(entries: RawEntry[]): Uint8Array {
  return new Uint8Array(zlib.gzipSync(rawTar(entries)));
}
