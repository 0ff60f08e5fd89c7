/**
 * The fast path of the document scanner: `document_scan.wat`, WebAssembly with SIMD, finds the
 * documents of a table read's response 64 bytes at a time, where the general scanner in
 * `raw_documents.ts` looks at every byte in JavaScript (about 5x slower, and slower still until
 * the JIT has warmed up). It handles what a table read sends; for anything else it declines and
 * the general scanner, which also reports malformed input, does the work.
 *
 * @module
 */

import { decodeBase64 } from "./base64.ts";
import { DOCUMENT_SCAN_WASM } from "./document_scan_wasm.ts";

/**
 * Larger bodies are left to the general scanner: the module's memory holds a copy of the body
 * and never shrinks, and a body this large is a few large documents, which the general scanner
 * crosses quickly (it jumps through long strings).
 */
export const FAST_SCAN_MAX_BODY = 4 * 1024 * 1024;

/** Bytes after the body that the scanner may read (one 64-byte step), filled with spaces. */
const PADDING = 64;

interface ScanExports {
  memory: WebAssembly.Memory;
  array_end: WebAssembly.Global;
  scan(from: number, length: number, starts: number, capacity: number): number;
}

/** The instance; `null` where it cannot run (a runtime without WebAssembly SIMD). */
let scanner: ScanExports | null | undefined;

function instance(): ScanExports | null {
  if (scanner === undefined) {
    try {
      const module = new WebAssembly.Module(decodeBase64(DOCUMENT_SCAN_WASM));
      scanner = new WebAssembly.Instance(module).exports as unknown as ScanExports;
    } catch {
      scanner = null;
    }
  }
  return scanner;
}

/** What {@link fastScanDocuments} found. */
export interface FastScan {
  /** Documents found. */
  count: number;
  /** Start of each document; a view valid until the next scan. */
  starts: Uint32Array;
  /** End (exclusive) of each document; a view valid until the next scan. */
  ends: Uint32Array;
  /** The position after the array's closing `]`. */
  end: number;
}

/**
 * Finds the documents of the array whose `[` is at `open` in `body`, or returns `undefined`
 * when the fast path does not handle this body (too large, not an array of objects or arrays
 * separated by commas, malformed, or no WebAssembly SIMD here).
 *
 * @example
 * ```ts
 * const body = new TextEncoder().encode('{"t":2,"r":[{"id":1},{"id":"}"}]}');
 * const found = fastScanDocuments(body, 11);
 * console.log(found?.count, found?.starts[1], found?.ends[1], found?.end); // 2 21 31 32
 * ```
 */
export function fastScanDocuments(body: Uint8Array, open: number): FastScan | undefined {
  if (body.length > FAST_SCAN_MAX_BODY) return undefined;
  const wasm = instance();
  if (!wasm) return undefined;
  // A document takes at least 3 bytes with its comma, so this many entries always suffice.
  const capacity = Math.floor(body.length / 3) + 1;
  const starts = (body.length + PADDING + 7) & ~7;
  const needed = starts + 8 * capacity;
  const memory = wasm.memory;
  if (memory.buffer.byteLength < needed) {
    memory.grow(Math.ceil((needed - memory.buffer.byteLength) / 65536));
  }
  const bytes = new Uint8Array(memory.buffer);
  bytes.set(body);
  bytes.fill(0x20, body.length, body.length + PADDING);
  const count = wasm.scan(open + 1, body.length, starts, capacity);
  if (count < 0) return undefined;
  return {
    count,
    starts: new Uint32Array(memory.buffer, starts, count),
    ends: new Uint32Array(memory.buffer, starts + 4 * capacity, count),
    end: wasm.array_end.value as number,
  };
}
