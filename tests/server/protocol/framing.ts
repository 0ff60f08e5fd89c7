/**
 * Byte-level reading and writing of the RethinkDB wire protocol: the 4-byte magic number,
 * null-terminated JSON handshake messages, and query/response frames (8-byte little-endian token,
 * 4-byte little-endian length, JSON).
 *
 * @module
 */

/** Something bytes can be read from (a `Deno.Conn`). */
export interface Readable {
  read(p: Uint8Array): Promise<number | null>;
}

/** Buffered reader with the few read shapes the protocol needs. */
export class ByteReader {
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;

  constructor(private readonly source: Readable) {}

  /** Reads exactly `n` bytes; null if the stream ends first. */
  async readExact(n: number): Promise<Uint8Array | null> {
    while (this.#end - this.#start < n) {
      if (!(await this.#fill(n))) return null;
    }
    const out = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  /** Reads up to a NUL byte (not included); null if the stream ends first or `max` is exceeded. */
  async readNullTerminated(max: number): Promise<Uint8Array | null> {
    let scanned = 0;
    for (;;) {
      const at = this.#buf.subarray(this.#start + scanned, this.#end).indexOf(0);
      if (at >= 0) {
        const out = this.#buf.slice(this.#start, this.#start + scanned + at);
        this.#start += scanned + at + 1;
        return out;
      }
      scanned = this.#end - this.#start;
      if (scanned > max) return null;
      if (!(await this.#fill(scanned + 1))) return null;
    }
  }

  /** Reads more bytes, growing the buffer to hold at least `want` unread bytes. */
  async #fill(want: number): Promise<boolean> {
    if (this.#start > 0 && this.#start === this.#end) {
      this.#start = 0;
      this.#end = 0;
    }
    if (this.#buf.length - this.#start < want + 4096) {
      const size = Math.max(this.#buf.length, want * 2 + 4096);
      const next = size > this.#buf.length ? new Uint8Array(size) : this.#buf;
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#end -= this.#start;
      this.#start = 0;
      this.#buf = next;
    }
    const n = await this.source.read(this.#buf.subarray(this.#end));
    if (n === null || n === 0) return n !== null;
    this.#end += n;
    return true;
  }
}

const encoder = new TextEncoder();

/** Encodes a handshake message: JSON text followed by a NUL byte. */
export function encodeNullTerminated(json: string): Uint8Array {
  const body = encoder.encode(json);
  const out = new Uint8Array(body.length + 1);
  out.set(body);
  return out;
}

/** Encodes a frame: token, length, JSON. */
export function encodeFrame(token: bigint, json: string): Uint8Array {
  const out = new Uint8Array(12 + json.length * 3);
  const { written } = encoder.encodeInto(json, out.subarray(12));
  const view = new DataView(out.buffer);
  view.setBigUint64(0, token, true);
  view.setUint32(8, written, true);
  return out.subarray(0, 12 + written);
}

/** Reads one frame; null at end of stream. */
export async function readFrame(
  reader: ByteReader,
): Promise<{ token: bigint; json: string } | null> {
  const header = await reader.readExact(12);
  if (header === null) return null;
  const view = new DataView(header.buffer, header.byteOffset, 12);
  const token = view.getBigUint64(0, true);
  const length = view.getUint32(8, true);
  const body = await reader.readExact(length);
  if (body === null) return null;
  return { token, json: new TextDecoder().decode(body) };
}
