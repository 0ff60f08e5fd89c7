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

export { main } from "./src/cli/main.ts";
export { dump } from "./src/dump/run.ts";
export type { DumpOptions, DumpSummary } from "./src/dump/options.ts";
export { restore } from "./src/restore/run.ts";
export type { RestoreOptions, RestoreSummary } from "./src/restore/options.ts";
export type { ConnectOptions } from "./src/connection/driver.ts";
export { parseAddress } from "./src/connection/address.ts";
export { BackupError, ExitCode, InterruptedError, UsageError } from "./src/errors.ts";
export { installAliases } from "./src/cli/install_aliases.ts";
export { VERSION } from "./src/version.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
