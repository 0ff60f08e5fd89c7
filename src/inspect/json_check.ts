/**
 * The check of one table's `.json` entry, fed chunk by chunk: its SHA-256, its documents
 * (counted and validated by the archive's JSON scanner) and whether each holds the table's
 * primary key. The primary key may not be known yet (official archives can store the `.json`
 * before its `.info`): then the keys common to every document are tracked instead, which keeps
 * the state small whatever the size of the entry.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import {
  type DocumentBatch,
  DocumentScanner,
  type SplitDocumentsOptions,
} from "../archive/documents.ts";
import { ArchiveError } from "../archive/errors.ts";
import { forEachDocumentKeys } from "./document_keys.ts";

const BOM = [0xef, 0xbb, 0xbf];

/** What was observed in a `.json` entry. */
export interface ObservedData {
  /** Documents read (up to the first invalid byte, if any). */
  documents: number;
  /** Bytes read. */
  bytes: number;
  /** SHA-256 of the bytes, lowercase hex (when hashed and read to the end). */
  sha256?: string;
  /** The first JSON problem, naming the entry and the byte offset. */
  invalid?: string;
}

/** Options of {@link JsonEntryCheck}; batch sizes apply to the batches {@link JsonEntryCheck.take} gives. */
export interface JsonEntryCheckOptions extends SplitDocumentsOptions {
  /** Compute the SHA-256 (default true). */
  hash?: boolean;
  /** Check each document for the primary key (default true). */
  primaryKey?: boolean;
  /** The table's primary key, when its `.info` has been read already. */
  knownPrimaryKey?: string;
  /**
   * Keep the checked batches for {@link JsonEntryCheck.take} (a restore inserts them) instead of
   * dropping them once checked (default false).
   */
  keepBatches?: boolean;
}

/**
 * Checks a `.json` entry as it streams by. With `keepBatches`, it is also how a restore splits
 * the entry into batches: each batch is checked before {@link JsonEntryCheck.take} gives it.
 *
 * @example
 * ```ts
 * import { JsonEntryCheck } from "./json_check.ts";
 *
 * const check = new JsonEntryCheck("top/db/t.json");
 * check.feed(new TextEncoder().encode('[\n{"id":1},\n{"name":"x"}\n]\n'));
 * const observed = check.end(); // { documents: 2, bytes: 26, sha256: "…" }
 * check.firstDocumentWithout("id"); // 1 (0-based)
 * ```
 */
export class JsonEntryCheck {
  readonly #scanner: DocumentScanner;
  readonly #hash: Hash | undefined;
  readonly #checkKeys: boolean;
  readonly #knownKey: string | undefined;
  readonly #path: string;
  readonly #keep: DocumentBatch[] | undefined;
  #bytes = 0;
  #invalid: string | undefined;
  // The first byte that is not whitespace or a UTF-8 BOM, -1 until seen.
  #firstByte = -1;
  #seen = 0;
  // With a known key: index of the first document without it, -1 if none.
  #firstMissing = -1;
  // Without one: keys of the first document → index of the first document lacking it (-1 none).
  #candidates: Map<string, number> | undefined;

  /** `entryPath` names the entry in problems. */
  constructor(entryPath: string, options: JsonEntryCheckOptions = {}) {
    this.#path = entryPath;
    this.#scanner = new DocumentScanner(entryPath, options);
    this.#hash = options.hash === false ? undefined : createHash("sha256");
    this.#checkKeys = options.primaryKey !== false;
    this.#knownKey = options.knownPrimaryKey;
    this.#keep = options.keepBatches ? [] : undefined;
  }

  /**
   * The first problem found so far: invalid JSON, not an array, or (with a known primary key) a
   * document without it. Once set, {@link take} gives nothing more.
   *
   * @example
   * ```ts
   * import { JsonEntryCheck } from "./json_check.ts";
   *
   * const check = new JsonEntryCheck("t.json", { knownPrimaryKey: "id" });
   * check.feed(new TextEncoder().encode('{"id":1}'));
   * check.problem; // "t.json: not a JSON array (byte 0 is not '[')"
   * ```
   */
  get problem(): string | undefined {
    if (this.#invalid !== undefined) return this.#invalid;
    if (this.#firstMissing >= 0 && this.#knownKey !== undefined) {
      return missingKeyProblem(this.#path, this.#firstMissing, this.#knownKey);
    }
    return undefined;
  }

  /**
   * The batches checked since the last call (with `keepBatches`), ready for `r.json`; none once
   * a {@link problem} is found.
   *
   * @example
   * ```ts
   * import { JsonEntryCheck } from "./json_check.ts";
   *
   * const check = new JsonEntryCheck("t.json", { keepBatches: true, knownPrimaryKey: "id" });
   * check.feed(new TextEncoder().encode('[\n{"id":1}\n]\n'));
   * check.end();
   * check.take(); // [{ json: '[{"id":1}]', count: 1, … }]
   * ```
   */
  take(): DocumentBatch[] {
    if (this.#keep === undefined || this.#keep.length === 0) return [];
    if (this.problem !== undefined) return [];
    return this.#keep.splice(0);
  }

  /**
   * Feeds the next chunk of the entry. After a JSON problem, the rest is only hashed.
   *
   * @example
   * ```ts
   * import { JsonEntryCheck } from "./json_check.ts";
   *
   * new JsonEntryCheck("t.json").feed(new TextEncoder().encode("[\n]\n"));
   * ```
   */
  feed(chunk: Uint8Array): void {
    this.#bytes += chunk.length;
    this.#hash?.update(chunk);
    if (this.#invalid !== undefined) return;
    if (this.#firstByte < 0) this.#findFirstByte(chunk);
    try {
      this.#scanner.feed(chunk);
    } catch (error) {
      if (!(error instanceof ArchiveError)) throw error;
      this.#invalid = error.message;
    }
    this.#takeBatches();
  }

  /**
   * Ends the entry and returns what was observed.
   *
   * @example
   * ```ts
   * import { JsonEntryCheck } from "./json_check.ts";
   *
   * new JsonEntryCheck("t.json").end().invalid; // "t.json: invalid JSON at byte 0: …"
   * ```
   */
  end(): ObservedData {
    if (this.#invalid === undefined && this.#firstByte < 0) {
      this.#invalid = `${this.#path}: holds no JSON array (${
        this.#bytes === 0 ? "the entry is empty" : "only whitespace"
      })`;
    }
    if (this.#invalid === undefined) {
      try {
        this.#scanner.end();
      } catch (error) {
        if (!(error instanceof ArchiveError)) throw error;
        this.#invalid = error.message;
      }
      this.#takeBatches();
    }
    const observed: ObservedData = { documents: this.#scanner.documents, bytes: this.#bytes };
    if (this.#hash) observed.sha256 = this.#hash.digest("hex");
    if (this.#invalid !== undefined) observed.invalid = this.#invalid;
    return observed;
  }

  /**
   * The index (0-based) of the first document without a top-level `key`, or -1 when every
   * document read has it (or documents were not checked).
   *
   * @example
   * ```ts
   * import { JsonEntryCheck } from "./json_check.ts";
   *
   * const check = new JsonEntryCheck("t.json");
   * check.feed(new TextEncoder().encode('[{"uid":1}]'));
   * check.end();
   * check.firstDocumentWithout("id"); // 0
   * ```
   */
  firstDocumentWithout(key: string): number {
    return this.keyCheck()(key);
  }

  /**
   * {@link firstDocumentWithout} as a function that holds only the few numbers it needs, not the
   * scanner and its buffers: keep it, rather than the check, until the primary key is known.
   *
   * @example
   * ```ts
   * import { JsonEntryCheck } from "./json_check.ts";
   *
   * const check = new JsonEntryCheck("t.json");
   * check.feed(new TextEncoder().encode('[{"id":1}]'));
   * check.end();
   * const firstWithout = check.keyCheck();
   * firstWithout("id"); // -1
   * ```
   */
  keyCheck(): (key: string) => number {
    if (!this.#checkKeys) return () => -1;
    const knownKey = this.#knownKey;
    if (knownKey !== undefined) {
      const firstMissing = this.#firstMissing;
      return (key) => key === knownKey ? firstMissing : -1;
    }
    const candidates = this.#candidates;
    if (candidates === undefined) return () => -1; // no documents
    return (key) => candidates.get(key) ?? 0;
  }

  /** The scanner also reads NDJSON; a dump's `.json` must be a JSON array. */
  #findFirstByte(chunk: Uint8Array): void {
    const base = this.#bytes - chunk.length;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      const at = base + i;
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
      if (at < 3 && c === BOM[at]) continue;
      this.#firstByte = c;
      if (c !== 0x5b) this.#invalid = `${this.#path}: not a JSON array (byte ${at} is not '[')`;
      return;
    }
  }

  #takeBatches(): void {
    const batches = this.#scanner.take();
    if (this.#checkKeys) {
      for (const batch of batches) {
        if (this.#knownKey !== undefined) this.#checkKnown(batch.text, this.#knownKey);
        else this.#track(batch.text);
        this.#seen += batch.count;
      }
    }
    this.#keep?.push(...batches);
  }

  #checkKnown(batch: Uint8Array, key: string): void {
    if (this.#firstMissing >= 0) return;
    forEachDocumentKeys(batch, (i, keys) => {
      if (this.#firstMissing < 0 && !keys.includes(key)) this.#firstMissing = this.#seen + i;
    });
  }

  #track(batch: Uint8Array): void {
    const live = this.#candidates && [...this.#candidates.values()].some((missing) => missing < 0);
    if (this.#candidates !== undefined && !live) return;
    forEachDocumentKeys(batch, (i, keys) => {
      if (this.#candidates === undefined) {
        this.#candidates = new Map(keys.map((key) => [key, -1]));
        return;
      }
      for (const [candidate, missing] of this.#candidates) {
        if (missing < 0 && !keys.includes(candidate)) {
          this.#candidates.set(candidate, this.#seen + i);
        }
      }
    });
  }
}

/**
 * The problem line for a document without the table's primary key (`index` 0-based).
 *
 * @example
 * ```ts
 * import { missingKeyProblem } from "./json_check.ts";
 *
 * missingKeyProblem("top/db/t.json", 0, "id"); // 'top/db/t.json: document 1 has no primary key "id"'
 * ```
 */
export function missingKeyProblem(entryPath: string, index: number, key: string): string {
  return `${entryPath}: document ${index + 1} has no primary key ${JSON.stringify(key)}`;
}
