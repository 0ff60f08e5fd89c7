/**
 * BINARY pseudo-type helpers. RethinkDB sends binary data base64-encoded with a `\r\n` after every
 * 76 characters (MIME style), as visible in the recorded function blobs.
 *
 * @module
 */

import { decodeBase64 } from "./datum.ts";

/** A BINARY pseudo-type object. */
export interface BinaryDatum {
  $reql_type$: "BINARY";
  data: string;
}

/** Base64 with RethinkDB's `\r\n` line breaks every 76 characters. */
export function encodeBase64Mime(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  const flat = btoa(bin);
  const lines: string[] = [];
  for (let i = 0; i < flat.length; i += 76) lines.push(flat.slice(i, i + 76));
  return lines.join("\r\n");
}

/** Wraps bytes as a BINARY pseudo-type, encoded the way the real server encodes it. */
export function binaryDatum(bytes: Uint8Array): BinaryDatum {
  return { $reql_type$: "BINARY", data: encodeBase64Mime(bytes) };
}

/** The bytes of a BINARY pseudo-type object. */
export function binaryBytes(value: { data?: unknown }): Uint8Array {
  return decodeBase64(String(value.data ?? ""));
}
