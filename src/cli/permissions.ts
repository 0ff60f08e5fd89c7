/**
 * The Deno permissions the tool needs, in one place: baked into compiled executables and
 * written into `deno run` alias scripts. The README explains each.
 *
 * @module
 */

/**
 * - `--allow-net`: the RethinkDB server, at whatever address `-c` names.
 * - `--allow-read`: archives, `--password-file`, `--tls-cert`, spool files.
 * - `--allow-write`: the archive, its temporary name, spool files in `--temp-dir`.
 * - `--allow-env`: the driver's Node compatibility layer and the temp directory (TMPDIR).
 * - `--allow-sys`: the driver's Node compatibility layer asks for the host name / OS info, and
 *   the compression workers lower their own priority (`setPriority`; skipped without it).
 *
 * @example
 * ```ts
 * const cmd = ["deno", "run", ...PERMISSION_FLAGS, "mod.ts", "dump"];
 * ```
 */
export const PERMISSION_FLAGS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
];
