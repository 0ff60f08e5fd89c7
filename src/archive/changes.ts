/**
 * The `.changes` entry of a point-in-time dump: a table's changes, in the order the server
 * made them, from before its read began until the cut. Replayed over the table's `.json`, they
 * give the table as it was at the cut.
 *
 * Format: UTF-8, one change per line, each line a compact JSON object
 * `{"key":<primary key>,"new_val":<document or null>}` ending in `\n`. `new_val` is the whole
 * document after the change; `null` means the document was deleted. Values are the server's
 * bytes, copied unparsed, so a replay is as lossless as the `.json` (`-0.0`, large numbers,
 * pseudo-types). The server writes JSON without raw line breaks, so `\n` only ends a line.
 *
 * The official `rethinkdb restore` skips entries with other extensions than `.json`, `.csv` and
 * `.info`: from such an archive it restores each table as it was read, without the changes.
 *
 * @module
 */

import { forEachMember, JsonBytesError, skipSpace } from "../json/bytes.ts";

/** The extension of a table's change entry: `<top>/<db>/<table>.changes`. */
export const CHANGES_EXTENSION = "changes";

/** One change to a table. */
export interface Change {
  /** The primary key's JSON bytes. */
  key: Uint8Array;
  /** The document's JSON bytes after the change, or `null`: the document was deleted. */
  newVal: Uint8Array | null;
}

const encoder = new TextEncoder();
const KEY_PREFIX = encoder.encode('{"key":');
const NEW_VAL = encoder.encode(',"new_val":');
const NULL = encoder.encode("null");
const LINE_END = encoder.encode("}\n");
const NEWLINE = 0x0a;

/**
 * Encodes one change as its line, `\n` included.
 *
 * @example
 * ```ts
 * import { encodeChange } from "./changes.ts";
 *
 * const bytes = (text: string) => new TextEncoder().encode(text);
 * new TextDecoder().decode(encodeChange({ key: bytes("1"), newVal: bytes('{"id":1}') }));
 * // '{"key":1,"new_val":{"id":1}}\n'
 * ```
 */
export function encodeChange(change: Change): Uint8Array {
  const value = change.newVal ?? NULL;
  const line = new Uint8Array(
    KEY_PREFIX.length + change.key.length + NEW_VAL.length + value.length + LINE_END.length,
  );
  let p = 0;
  for (const part of [KEY_PREFIX, change.key, NEW_VAL, value, LINE_END]) {
    line.set(part, p);
    p += part.length;
  }
  return line;
}

/**
 * Decodes one line (without its `\n`) into a {@link Change} whose bytes point into `line`.
 * Throws a {@link ChangeLineError} saying what is wrong. Only the line's shape is checked
 * here; that `key` and `new_val` are valid JSON is the caller's to check where it matters.
 *
 * @example
 * ```ts
 * import { decodeChange } from "./changes.ts";
 *
 * const change = decodeChange(new TextEncoder().encode('{"key":"a","new_val":null}'));
 * new TextDecoder().decode(change.key); // '"a"'
 * change.newVal; // null
 * ```
 */
export function decodeChange(line: Uint8Array): Change {
  let key: Uint8Array | undefined;
  let newVal: Uint8Array | null | undefined;
  try {
    const start = skipSpace(line, 0);
    const end = forEachMember(line, start, ({ key: name, valueStart, valueEnd }) => {
      const value = line.subarray(valueStart, valueEnd);
      if (name === "key") key = value;
      else if (name === "new_val") newVal = isNull(value) ? null : value;
      else throw new ChangeLineError(`an unknown member "${name}"`);
    });
    for (let p = end; p < line.length; p++) {
      if (line[p] > 0x20) throw new ChangeLineError("text after the change's object");
    }
  } catch (error) {
    if (error instanceof JsonBytesError) throw new ChangeLineError(error.message);
    throw error;
  }
  if (key === undefined) throw new ChangeLineError('no "key"');
  if (newVal === undefined) throw new ChangeLineError('no "new_val"');
  if (newVal !== null && newVal[0] !== 0x7b) {
    throw new ChangeLineError('"new_val" is neither a document nor null');
  }
  return { key, newVal };
}

/**
 * A `.changes` line that is not a change. The message says what is wrong; readers add the entry
 * and the line number.
 *
 * @example
 * ```ts
 * import { ChangeLineError, decodeChange } from "./changes.ts";
 *
 * try {
 *   decodeChange(new TextEncoder().encode('{"new_val":null}'));
 * } catch (error) {
 *   console.log(error instanceof ChangeLineError, (error as Error).message); // true no "key"
 * }
 * ```
 */
export class ChangeLineError extends Error {
  constructor(what: string) {
    super(what);
    this.name = "ChangeLineError";
  }
}

/**
 * Splits a `.changes` entry's bytes, given in chunks of any size, into lines. A line is handed
 * on once its `\n` has arrived; it is a view into the chunk (or into a copy when it spans
 * chunks), valid until the next call.
 *
 * @example
 * ```ts
 * import { ChangeLines } from "./changes.ts";
 *
 * const lines = new ChangeLines();
 * const bytes = (text: string) => new TextEncoder().encode(text);
 * lines.push(bytes('{"key":1,"new_val":null}\n{"key"'), (line) => console.log(line.length));
 * lines.push(bytes(':2,"new_val":null}\n'), (line) => console.log(line.length));
 * lines.finish(); // throws if a line has no `\n`
 * ```
 */
export class ChangeLines {
  #partial: Uint8Array[] = [];
  #partialBytes = 0;
  readonly #maxLineBytes: number;
  /** Lines handed on so far. */
  count = 0;

  /**
   * `maxLineBytes`: the longest line accepted (its `\n` excluded); a longer one throws a
   * {@link ChangeLineError} as soon as it is known to be longer, so a hostile entry without a
   * line end is never held whole. Default: no limit.
   */
  constructor(maxLineBytes = Infinity) {
    this.#maxLineBytes = maxLineBytes;
  }

  /** Hands each complete line of `chunk` (with what came before it) to `line`. */
  push(chunk: Uint8Array, line: (bytes: Uint8Array) => void): void {
    let from = 0;
    while (from < chunk.length) {
      const end = chunk.indexOf(NEWLINE, from);
      const length = this.#partialBytes + (end < 0 ? chunk.length : end) - from;
      if (length > this.#maxLineBytes) {
        throw new ChangeLineError(`a line longer than the limit of ${this.#maxLineBytes} bytes`);
      }
      if (end < 0) {
        this.#partial.push(chunk.slice(from));
        this.#partialBytes += chunk.length - from;
        return;
      }
      this.count++;
      if (this.#partial.length === 0) line(chunk.subarray(from, end));
      else {
        const joined = new Uint8Array(this.#partialBytes + end - from);
        let p = 0;
        for (const part of this.#partial) {
          joined.set(part, p);
          p += part.length;
        }
        joined.set(chunk.subarray(from, end), p);
        this.#partial = [];
        this.#partialBytes = 0;
        line(joined);
      }
      from = end + 1;
    }
  }

  /** Throws a {@link ChangeLineError} if the entry ended inside a line. */
  finish(): void {
    if (this.#partialBytes > 0) throw new ChangeLineError("the last line has no line end");
  }
}

function isNull(value: Uint8Array): boolean {
  return value.length === 4 && value[0] === NULL[0] && value[1] === NULL[1] &&
    value[2] === NULL[2] && value[3] === NULL[3];
}
