/**
 * The check of one table's `.changes` entry (`../archive/changes.ts`), fed chunk by chunk: its
 * SHA-256, its lines counted, and each line a change that can be replayed: valid UTF-8 JSON
 * (the archive's JSON scanner), the `{"key":…,"new_val":…}` shape, a key that is not `null`, and
 * a document whose primary key is the change's key, byte for byte. Only the line being read is
 * held (never the entry), so memory stays bounded whatever the entry's size.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { type Change, ChangeLineError, ChangeLines, decodeChange } from "../archive/changes.ts";
import { DEFAULT_MAX_DOCUMENT_BYTES, DocumentScanner } from "../archive/documents.ts";
import { ArchiveError } from "../archive/errors.ts";
import { JsonBytesError, memberValue } from "../json/bytes.ts";

/**
 * The longest `.changes` line read: a document as large as a `.json` entry accepts, plus room
 * for its key (a RethinkDB primary key is at most 127 bytes) and the line's frame.
 */
export const MAX_CHANGE_LINE_BYTES = DEFAULT_MAX_DOCUMENT_BYTES + 64 * 1024;

/** What was observed in a `.changes` entry. */
export interface ObservedChanges {
  /** Lines read (up to the first problem, if any). */
  changes: number;
  /** Bytes read. */
  bytes: number;
  /** SHA-256 of the bytes, lowercase hex (when hashed). */
  sha256?: string;
  /** The first problem, naming the entry and the line. */
  invalid?: string;
}

/** Options of {@link ChangesEntryCheck}. */
export interface ChangesEntryCheckOptions {
  /** Compute the SHA-256 (default true). */
  hash?: boolean;
  /**
   * Check every line's JSON and primary key (default true). Without, lines are only decoded:
   * for an entry checked whole already (the pre-scan of `restore FILE`).
   */
  validate?: boolean;
  /** Keep the decoded changes for {@link ChangesEntryCheck.take} (a restore replays them). */
  keep?: boolean;
}

const NEWLINE = new Uint8Array([0x0a]);
const NULL_BYTES = new TextEncoder().encode("null");
const decoder = new TextDecoder();

/**
 * Checks a `.changes` entry as it streams by. With `keep`, it is also how a restore reads the
 * entry: each change is checked before {@link ChangesEntryCheck.take} gives it.
 *
 * @example
 * ```ts
 * import { ChangesEntryCheck } from "./changes_check.ts";
 *
 * const check = new ChangesEntryCheck("top/db/t.changes", "id");
 * check.feed(new TextEncoder().encode('{"key":1,"new_val":{"id":1}}\n{"key":2,"new_val":null}\n'));
 * check.end(); // { changes: 2, bytes: 54, sha256: "…" }
 * ```
 */
export class ChangesEntryCheck {
  readonly #path: string;
  readonly #primaryKey: string;
  readonly #hash: Hash | undefined;
  readonly #validate: boolean;
  readonly #keep: Change[] | undefined;
  readonly #lines = new ChangeLines(MAX_CHANGE_LINE_BYTES);
  // Made on the first line: a check that is never fed (list) costs no buffer.
  #scanner: DocumentScanner | undefined;
  #bytes = 0;
  #invalid: string | undefined;

  /** `entryPath` names the entry in problems; `primaryKey` is the table's. */
  constructor(entryPath: string, primaryKey: string, options: ChangesEntryCheckOptions = {}) {
    this.#path = entryPath;
    this.#primaryKey = primaryKey;
    this.#hash = options.hash === false ? undefined : createHash("sha256");
    this.#validate = options.validate !== false;
    this.#keep = options.keep ? [] : undefined;
  }

  /**
   * The first problem found so far, naming the entry and the line; once set, {@link take}
   * gives nothing more.
   *
   * @example
   * ```ts
   * import { ChangesEntryCheck } from "./changes_check.ts";
   *
   * const check = new ChangesEntryCheck("t.changes", "id");
   * check.feed(new TextEncoder().encode('{"key":1,"new_val":{"id":2}}\n'));
   * check.problem; // 't.changes: line 1: the document\'s primary key "id" is 2, not the change\'s key 1'
   * ```
   */
  get problem(): string | undefined {
    return this.#invalid;
  }

  /**
   * The changes checked since the last call (with `keep`), in the entry's order; each owns its
   * bytes. None once a {@link problem} is found.
   *
   * @example
   * ```ts
   * import { ChangesEntryCheck } from "./changes_check.ts";
   *
   * const check = new ChangesEntryCheck("t.changes", "id", { keep: true });
   * check.feed(new TextEncoder().encode('{"key":1,"new_val":null}\n'));
   * check.take().length; // 1
   * ```
   */
  take(): Change[] {
    if (this.#keep === undefined || this.#keep.length === 0 || this.#invalid !== undefined) {
      return [];
    }
    return this.#keep.splice(0);
  }

  /**
   * Feeds the next chunk of the entry. After a problem, the rest is only counted and hashed.
   *
   * @example
   * ```ts
   * import { ChangesEntryCheck } from "./changes_check.ts";
   *
   * new ChangesEntryCheck("t.changes", "id").feed(new TextEncoder().encode('{"key":1,'));
   * ```
   */
  feed(chunk: Uint8Array): void {
    this.#bytes += chunk.length;
    this.#hash?.update(chunk);
    if (this.#invalid !== undefined) return;
    try {
      this.#lines.push(chunk, (line) => this.#line(line));
    } catch (error) {
      if (!(error instanceof ChangeLineError)) throw error;
      this.#invalid ??= `${this.#path}: line ${this.#lines.count + 1}: ${error.message}`;
    }
  }

  /**
   * Ends the entry and returns what was observed.
   *
   * @example
   * ```ts
   * import { ChangesEntryCheck } from "./changes_check.ts";
   *
   * const check = new ChangesEntryCheck("t.changes", "id");
   * check.feed(new TextEncoder().encode('{"key":1,"new_val":null}'));
   * check.end().invalid; // "t.changes: line 1: the last line has no line end"
   * ```
   */
  end(): ObservedChanges {
    if (this.#invalid === undefined) {
      try {
        this.#lines.finish();
      } catch (error) {
        if (!(error instanceof ChangeLineError)) throw error;
        this.#invalid = `${this.#path}: line ${this.#lines.count + 1}: ${error.message}`;
      }
    }
    const observed: ObservedChanges = { changes: this.#lines.count, bytes: this.#bytes };
    if (this.#hash) observed.sha256 = this.#hash.digest("hex");
    if (this.#invalid !== undefined) observed.invalid = this.#invalid;
    return observed;
  }

  #line(line: Uint8Array): void {
    if (this.#invalid !== undefined) return;
    const where = `${this.#path}: line ${this.#lines.count}`;
    if (this.#validate) {
      // The scanner validates every byte (syntax, escapes, UTF-8) without parsing; it is fed the
      // line end too, so its offsets are the entry's.
      this.#scanner ??= new DocumentScanner(this.#path, { batchDocuments: 1 });
      try {
        this.#scanner.feed(line);
        this.#scanner.feed(NEWLINE);
      } catch (error) {
        if (!(error instanceof ArchiveError)) throw error;
        this.#invalid = error.message.startsWith(`${this.#path}: `)
          ? `${where}: ${error.message.slice(this.#path.length + 2)}`
          : `${where}: ${error.message}`;
        return;
      }
      this.#scanner.take();
    }
    let change: Change;
    try {
      change = decodeChange(line);
    } catch (error) {
      if (!(error instanceof ChangeLineError)) throw error;
      this.#invalid = `${where}: not a change: ${error.message}`;
      return;
    }
    if (this.#validate) {
      const problem = this.#keyProblem(change);
      if (problem !== undefined) {
        this.#invalid = `${where}: ${problem}`;
        return;
      }
    }
    this.#keep?.push({ key: change.key.slice(), newVal: change.newVal?.slice() ?? null });
  }

  #keyProblem(change: Change): string | undefined {
    if (sameBytes(change.key, NULL_BYTES)) return "the key is null, which no primary key is";
    if (change.newVal === null) return undefined;
    const pk = JSON.stringify(this.#primaryKey);
    let own: Uint8Array | undefined;
    try {
      own = memberValue(change.newVal, 0, this.#primaryKey);
    } catch (error) {
      if (!(error instanceof JsonBytesError)) throw error;
      return `the document cannot be read: ${error.message}`;
    }
    if (own === undefined) return `the document has no primary key ${pk}`;
    if (sameBytes(own, change.key)) return undefined;
    return `the document's primary key ${pk} is ${shown(own)}, not the change's key ${
      shown(change.key)
    }`;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A value's JSON for a message, cut to a readable length. */
function shown(bytes: Uint8Array): string {
  const text = decoder.decode(bytes.subarray(0, 64));
  return bytes.length > 64 ? `${text}…` : text;
}
