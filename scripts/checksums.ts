/**
 * `SHA256SUMS` of the built files, in the format of `sha256sum` (`<hex>  <name>` per line), so
 * that an operator checks a download with `sha256sum -c --ignore-missing SHA256SUMS`.
 * `deno task compile` and `deno task bundle` both write into `dist/`; each replaces the lines
 * of its own files and keeps the others', so the one file covers everything built.
 *
 * @module
 */

/**
 * The SHA-256 of a file, in lowercase hex.
 *
 * @example
 * ```ts
 * import { sha256File } from "./checksums.ts";
 *
 * console.log(await sha256File("dist/rethinkdb-backup.js"));
 * ```
 */
export async function sha256File(path: string | URL): Promise<string> {
  const bytes = await Deno.readFile(path);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Reads `sha256sum` output: file name to hex digest. Lines that are not in its format are
 * left out.
 *
 * @example
 * ```ts
 * import { parseSha256Sums } from "./checksums.ts";
 *
 * parseSha256Sums(`${"ab".repeat(32)}  rethinkdb-backup.js\n`);
 * // Map { "rethinkdb-backup.js" => "abab…" }
 * ```
 */
export function parseSha256Sums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split("\n")) {
    // `sha256sum` marks a file read in binary mode with `*` instead of the second space.
    const match = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trimEnd());
    if (match) sums.set(match[2], match[1]);
  }
  return sums;
}

/**
 * Hashes `names` (files in `dir`) into `dir/SHA256SUMS`, keeping the lines of other files that
 * still exist there, and returns the digests of `names`.
 *
 * @example
 * ```ts
 * import { recordSha256Sums } from "./checksums.ts";
 *
 * const sums = await recordSha256Sums("dist", ["rethinkdb-backup.js"]);
 * console.log(sums.get("rethinkdb-backup.js"));
 * ```
 */
export async function recordSha256Sums(
  dir: string,
  names: readonly string[],
): Promise<Map<string, string>> {
  const path = `${dir}/SHA256SUMS`;
  let previous = new Map<string, string>();
  try {
    previous = parseSha256Sums(await Deno.readTextFile(path));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const fresh = new Map<string, string>();
  for (const name of names) fresh.set(name, await sha256File(`${dir}/${name}`));
  const all = new Map<string, string>();
  for (const [name, sum] of previous) {
    // A line for a file no longer there would make `sha256sum -c` fail for nothing.
    if (!fresh.has(name) && await exists(`${dir}/${name}`)) all.set(name, sum);
  }
  for (const [name, sum] of fresh) all.set(name, sum);
  const lines = [...all].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, sum]) => `${sum}  ${name}\n`);
  await Deno.writeTextFile(path, lines.join(""));
  return fresh;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
