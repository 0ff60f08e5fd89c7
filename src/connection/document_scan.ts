/**
 * The fast path of the document scanner: `document_scan.wat`, WebAssembly with SIMD, finds the
 * documents of a table read's response 64 bytes at a time, where the general scanner in
 * `raw_documents.ts` looks at every byte in JavaScript (about 3x slower, and slower still until
 * the JIT has warmed up). It handles what a table read sends; for anything else it declines and
 * the general scanner, which also reports malformed input, does the work. It can also join the
 * documents with a separator in one pass, so that a consumer copies one buffer per batch
 * instead of one per document.
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

/** Scanners not in use, kept for the next read (a read holds one for its whole length). */
const IDLE_MAX = 4;

interface ScanExports {
  memory: WebAssembly.Memory;
  array_end: WebAssembly.Global;
  scan(from: number, length: number, starts: number, capacity: number): number;
  join(
    starts: number,
    ends: number,
    count: number,
    separator: number,
    separatorLength: number,
    out: number,
  ): number;
}

/** The compiled module; `null` where it cannot run (a runtime without WebAssembly SIMD). */
let compiled: WebAssembly.Module | null | undefined;
const idle: FastDocumentScanner[] = [];

/** What {@link FastDocumentScanner.scan} found; views valid until the scanner's next scan. */
export interface FastScan {
  /** Documents found. */
  count: number;
  /** Start of each document in the body. */
  starts: Uint32Array;
  /** End (exclusive) of each document in the body. */
  ends: Uint32Array;
  /** The position after the array's closing `]`. */
  end: number;
  /** The documents with the separator between each two, when one was given. */
  joined?: Uint8Array;
}

/**
 * One instance of the fast scanner with its own memory, held by one read at a time: what a
 * scan returns points into that memory, so reads in parallel must not share one.
 *
 * @example
 * ```ts
 * const scanner = FastDocumentScanner.acquire();
 * const body = new TextEncoder().encode('{"t":2,"r":[{"id":1},{"id":"}"}]}');
 * const found = scanner.scan(body, 11, new TextEncoder().encode(",\n"));
 * console.log(found?.count, found?.starts[1], found?.ends[1], found?.end); // 2 21 31 32
 * console.log(new TextDecoder().decode(found?.joined)); // {"id":1},\n{"id":"}"}
 * scanner.release();
 * ```
 */
export class FastDocumentScanner {
  readonly #wasm: ScanExports | null;

  private constructor(wasm: ScanExports | null) {
    this.#wasm = wasm;
  }

  /** A scanner for one read; give it back with {@link release}. */
  static acquire(): FastDocumentScanner {
    const reused = idle.pop();
    if (reused) return reused;
    if (compiled === undefined) {
      try {
        compiled = new WebAssembly.Module(decodeBase64(DOCUMENT_SCAN_WASM));
      } catch {
        compiled = null;
      }
    }
    const wasm = compiled && new WebAssembly.Instance(compiled).exports as unknown as ScanExports;
    return new FastDocumentScanner(wasm);
  }

  /** Ends this read's use of the scanner; what its scans returned is no longer valid. */
  release(): void {
    if (idle.length < IDLE_MAX && !idle.includes(this)) idle.push(this);
  }

  /**
   * Finds the documents of the array whose `[` is at `open` in `body` (and joins them with
   * `separator`, 0 to 4 bytes, when given), or returns `undefined` when the fast path does not
   * handle this body (too large, not an array of objects or arrays separated by commas,
   * malformed, or no WebAssembly SIMD here).
   */
  scan(body: Uint8Array, open: number, separator?: Uint8Array): FastScan | undefined {
    const wasm = this.#wasm;
    if (!wasm || body.length > FAST_SCAN_MAX_BODY) return undefined;
    // A document takes at least 3 bytes with its comma, so this many entries always suffice.
    const capacity = Math.floor(body.length / 3) + 1;
    const starts = (body.length + PADDING + 7) & ~7;
    const ends = starts + 4 * capacity;
    const out = ends + 4 * capacity;
    const needed = out + (separator ? body.length + 4 * capacity : 0);
    const memory = wasm.memory;
    if (memory.buffer.byteLength < needed) {
      memory.grow(Math.ceil((needed - memory.buffer.byteLength) / 65536));
    }
    const bytes = new Uint8Array(memory.buffer);
    bytes.set(body);
    bytes.fill(0x20, body.length, body.length + PADDING);
    const count = wasm.scan(open + 1, body.length, starts, capacity);
    if (count < 0) return undefined;
    const found: FastScan = {
      count,
      starts: new Uint32Array(memory.buffer, starts, count),
      ends: new Uint32Array(memory.buffer, ends, count),
      end: wasm.array_end.value as number,
    };
    if (separator) {
      if (separator.length > 4) throw new RangeError("a separator of at most 4 bytes");
      let packed = 0;
      for (let i = separator.length - 1; i >= 0; i--) packed = (packed << 8) | separator[i];
      const length = wasm.join(starts, ends, count, packed, separator.length, out);
      found.joined = new Uint8Array(memory.buffer, out, length);
    }
    return found;
  }
}
