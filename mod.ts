/**
 * rethinkdb-backup: hot backup and restore for RethinkDB, in one executable.
 *
 * Run it: `deno run --allow-net --allow-read --allow-write --allow-env --allow-sys mod.ts dump`.
 * Use it as a library:
 *
 * @example
 * ```ts
 * import { dump, restore } from "./mod.ts";
 * const summary = await dump({ connect: { host: "localhost", port: 28015 }, file: "b.tar.gz" });
 * await restore({ connect: { host: "localhost", port: 28015 }, archive: "b.tar.gz" });
 * ```
 *
 * @module
 */

import { main } from "./src/cli/main.ts";
import type * as dumping from "./src/dump/run.ts";
import type * as restoring from "./src/restore/run.ts";
import type * as aliases from "./src/cli/install_aliases.ts";
import type * as tracing from "./src/connection/trace.ts";

export { main } from "./src/cli/main.ts";
export type { DumpOptions, DumpSummary } from "./src/dump/options.ts";
export type { RestoreOptions, RestoreSummary } from "./src/restore/options.ts";
export type { ConnectOptions } from "./src/connection/driver.ts";
export type { Tracer } from "./src/connection/trace.ts";
// `maxRate: { perSecond: 5000, unit: "documents" }`; `backoff: true` or with its hooks.
export type { Rate } from "./src/throttle/rate.ts";
export type { BackoffOptions } from "./src/throttle/throttle.ts";
export type { BackoffState, BackoffTuning } from "./src/throttle/backoff.ts";
export { parseAddress } from "./src/connection/address.ts";
export { BackupError, ExitCode, InterruptedError, UsageError } from "./src/errors.ts";
export { VERSION } from "./src/version.ts";

// The commands are loaded when called, as the CLI loads them: a dump never pays for loading the
// restore code, nor a restore for the dump's.

/** Dumps tables into an archive; see `src/dump/run.ts`. */
export async function dump(
  ...args: Parameters<typeof dumping.dump>
): ReturnType<typeof dumping.dump> {
  return await (await import("./src/dump/run.ts")).dump(...args);
}

/** Restores an archive; see `src/restore/run.ts`. */
export async function restore(
  ...args: Parameters<typeof restoring.restore>
): ReturnType<typeof restoring.restore> {
  return await (await import("./src/restore/run.ts")).restore(...args);
}

/**
 * Creates (or empties) a `--trace` file for `connect.tracer`; close it when the command ends. See
 * `src/connection/trace.ts`.
 *
 * @example
 * ```ts
 * const tracer = await openTrace("dump.trace.jsonl");
 * try {
 *   await dump({ connect: { host: "localhost", port: 28015, tracer }, file: "b.tar.gz" });
 * } finally {
 *   await tracer.close();
 * }
 * ```
 */
export async function openTrace(
  ...args: Parameters<typeof tracing.Tracer.open>
): ReturnType<typeof tracing.Tracer.open> {
  return await (await import("./src/connection/trace.ts")).Tracer.open(...args);
}

/** Creates `rethinkdb-dump` and `rethinkdb-restore` in `dir`; see `src/cli/install_aliases.ts`. */
export async function installAliases(
  ...args: Parameters<typeof aliases.installAliases>
): ReturnType<typeof aliases.installAliases> {
  return await (await import("./src/cli/install_aliases.ts")).installAliases(...args);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
