/**
 * The error type of the archive layer.
 *
 * @module
 */

import { BackupError } from "../errors.ts";

/**
 * An archive (tar, gzip, `.info` or `.json` entry) is malformed, truncated or cannot be
 * written. The message is one line that names the entry (or the archive) and what is wrong.
 *
 * @example
 * ```ts
 * import { ArchiveError } from "./errors.ts";
 *
 * throw new ArchiveError("rethinkdb_dump_x/db/t.info: primary_key is not a string");
 * ```
 */
export class ArchiveError extends BackupError {
  /** `message` is one line: the entry (or the archive) and what is wrong with it. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, undefined, options);
    this.name = "ArchiveError";
  }
}
