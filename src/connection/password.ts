/**
 * Where the password comes from: a prompt with no echo (`-p`) or the first line of a file
 * (`--password-file`). It is never taken from the command line, so it cannot leak through the
 * process list.
 *
 * @module
 */

import { BackupError, UsageError } from "../errors.ts";

/** How the operator asked for the password to be obtained. */
export interface PasswordSource {
  /** `-p/--password`: prompt on the terminal without echo. */
  prompt?: boolean;
  /** `--password-file FILE`: the first line of FILE. */
  file?: string;
}

/**
 * Returns the password ("" for none) from the chosen source.
 *
 * @example
 * ```ts
 * const password = await readPassword({ file: "/run/secrets/rethinkdb" });
 * ```
 */
export async function readPassword(source: PasswordSource): Promise<string> {
  if (source.prompt && source.file) {
    throw new UsageError("use either -p/--password or --password-file, not both");
  }
  if (source.file) return await readPasswordFile(source.file);
  if (source.prompt) return await promptPassword("Password for the RethinkDB user: ");
  return "";
}

/** Reads the first line of `path`, without its line ending. */
export async function readPasswordFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : "cannot be read";
    throw new BackupError(`--password-file ${path}: ${why}; give a readable file`);
  }
  return text.split(/\r?\n/, 1)[0];
}

/**
 * Prompts on stderr and reads one line from the terminal with echo off. Refuses when stdin is
 * not a terminal, since the password would then be read from whatever is piped in.
 */
export async function promptPassword(prompt: string): Promise<string> {
  if (!Deno.stdin.isTerminal()) {
    throw new UsageError(
      "-p/--password needs a terminal to prompt on; use --password-file FILE instead",
    );
  }
  const encoder = new TextEncoder();
  await Deno.stderr.write(encoder.encode(prompt));
  Deno.stdin.setRaw(true);
  const bytes: number[] = [];
  const buffer = new Uint8Array(64);
  try {
    reading: while (true) {
      const n = await Deno.stdin.read(buffer);
      if (n === null) break;
      for (const byte of buffer.subarray(0, n)) {
        if (byte === 0x0d || byte === 0x0a) break reading;
        if (byte === 0x03) throw new BackupError("password prompt cancelled");
        if (byte === 0x7f || byte === 0x08) bytes.pop();
        else bytes.push(byte);
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(encoder.encode("\n"));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}
