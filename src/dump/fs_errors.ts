/**
 * File-system failures of a dump, turned into one-line errors that name the file and the fix.
 *
 * @module
 */

import { BackupError, firstLine } from "../errors.ts";

/** What the failing file is, for the message and the advice. */
export type FileRole = "output" | "temp";

/** True when `error` is the OS saying the disk (or quota) is full. */
export function isDiskFull(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | undefined;
  return e?.code === "ENOSPC" || e?.code === "EDQUOT" ||
    /no space left|os error 28\b|quota exceeded|os error 122\b/i.test(String(e?.message ?? ""));
}

/**
 * Describes a failed file operation on `path` as a {@link BackupError}; errors that already
 * are one pass through unchanged.
 *
 * @example
 * ```ts
 * try { await Deno.writeFile(path, bytes); } catch (e) { throw describeFsError(e, "write", path, "temp"); }
 * ```
 */
export function describeFsError(
  error: unknown,
  action: string,
  path: string,
  role: FileRole,
): BackupError {
  if (error instanceof BackupError) return error;
  const fix = role === "temp" ? "choose another directory with --temp-dir" : "choose another -f";
  let problem: string;
  if (isDiskFull(error)) {
    problem = "the disk is full";
    return new BackupError(
      `cannot ${action} ${path}: ${problem}; free some space or ${fix}`,
      undefined,
      { cause: error },
    );
  }
  if (error instanceof Deno.errors.PermissionDenied) problem = "permission denied";
  else if (error instanceof Deno.errors.NotFound) problem = "the directory does not exist";
  else if (/read-only/i.test(String(error))) {
    problem = "the file system is read-only";
  } else problem = firstLine(error);
  return new BackupError(`cannot ${action} ${path}: ${problem}; ${fix}`, undefined, {
    cause: error,
  });
}
