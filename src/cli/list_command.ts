/**
 * `rethinkdb-backup list ARCHIVE [--json]`: the tables of an archive, offline.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { inspectArchive } from "../inspect/catalog.ts";
import { type ListOutput, listOutput, listText } from "../inspect/list.ts";
import { openArchive } from "../restore/source.ts";
import { parseCommandLine } from "./args.ts";
import type { CommandContext } from "./context.ts";

/** `list --help`. */
export const LIST_HELP = `Usage: rethinkdb-backup list ARCHIVE [--json]

Lists the tables of an archive, offline: primary key, documents, size of the .json
entry, secondary indexes, write hook and (for archives of rethinkdb-backup) the table
configuration at dump time. ARCHIVE is a .tar.gz or .tar file, or \`-\` for stdin.
Archives of the official \`rethinkdb dump\` record no counts: their documents are
counted by reading the data (marked with *). A point-in-time archive also shows its
cut and each table's changes, which restore replays.

Options:
      --json        print {"archive":{…},"tables":[…],"problems":[…]} instead
  -h, --help        this help
      --version     print versions and exit

Exit codes: 0 listed, 1 the archive could not be read or has problems (run verify), 2 bad
command line.`;

const LIST_OPTIONS = {
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const;

/**
 * Lists an archive: `archive` is a path, or `-` for stdin (or `input` when given).
 *
 * @example
 * ```ts
 * import { listArchive } from "./list_command.ts";
 *
 * const output = await listArchive("backup.tar.gz");
 * console.log(output.tables.map((t) => `${t.db}.${t.table}: ${t.documents}`));
 * ```
 */
export async function listArchive(
  archive: string,
  input?: ReadableStream<Uint8Array>,
): Promise<ListOutput> {
  const stream = await openArchive(archive, input);
  return listOutput(await inspectArchive(stream, { mode: "list" }));
}

/**
 * Runs `list` for the CLI; returns the exit code.
 *
 * @example
 * ```ts
 * import { runListCommand } from "./list_command.ts";
 *
 * const code = await runListCommand(["backup.tar.gz", "--json"], {
 *   print: (t) => (console.log(t), 0), printError: console.error,
 *   printVersion: () => 0, signal: new AbortController().signal,
 * });
 * ```
 */
export async function runListCommand(args: string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandLine("list", args, LIST_OPTIONS, true);
  if (values.help) return context.print(LIST_HELP);
  if (values.version) return context.printVersion();
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? "list: missing ARCHIVE (a .tar.gz file, or - for stdin); see `rethinkdb-backup list --help`"
        : `list: one ARCHIVE expected, got ${positionals.length}: ${positionals.join(" ")}`,
    );
  }
  const output = await listArchive(positionals[0]);
  if (values.json) context.print(JSON.stringify(output));
  else {
    context.print(listText(output));
    for (const problem of output.problems) context.printError(`problem: ${problem}`);
  }
  if (output.problems.length === 0) return 0;
  context.printError(
    `rethinkdb-backup: ${output.problems.length} problem(s) found while listing; ` +
      "run `rethinkdb-backup verify` for a full check",
  );
  return 1;
}
