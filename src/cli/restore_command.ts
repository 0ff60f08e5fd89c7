/**
 * `rethinkdb-backup restore`: command-line options → {@link RestoreOptions} → {@link restore}.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { formatCount } from "../progress/progress.ts";
import type { RestoreOptions, RestoreSummary } from "../restore/options.ts";
import { dryRunRestore } from "../restore/dry_run.ts";
import { parseRenames } from "../restore/rename.ts";
import { restore } from "../restore/run.ts";
import { parseSelections } from "../restore/selection.ts";
import {
  closingTrace,
  CONNECTION_HELP,
  CONNECTION_OPTIONS,
  connectOptions,
  parseCommandLine,
  positiveInteger,
  retryFor,
  stringList,
} from "./args.ts";
import type { CommandContext } from "./context.ts";
import { THROTTLE_HELP, THROTTLE_OPTIONS, throttleArgs } from "./throttle_args.ts";

/** `restore --help`. */
export const RESTORE_HELP = `Usage: rethinkdb-backup restore ARCHIVE [options]

Loads an archive written by \`rethinkdb dump\` or \`rethinkdb-backup dump\` into a
RethinkDB cluster. ARCHIVE is a .tar.gz or .tar file, or \`-\` to read stdin. A
point-in-time archive's changes are replayed over each table's documents, bringing
every table to the dump's cut.

${CONNECTION_HELP}

Restore options:
  -i, --import DB[.TABLE]   only this database or table; repeatable (default: everything);
                            * and ? are wildcards: -i 'league.*' -i '*.users'
      --exclude DB[.TABLE]  leave this out, after -i; repeatable, wildcards allowed
      --rename FROM=TO      restore DB as another DB, or DB.TABLE as another DB.TABLE;
                            repeatable: --rename league=league_restored
                            --rename league.users=staging.users_0923
      --dry-run             print each table's target and what restore would do, write
                            nothing; exit 1 when the real run would refuse
      --clients N           concurrent insert connections (default 8)
      --temp-dir DIR        where entries wait for their .info (default: system temp dir)
      --hard-durability     write with durability "hard" (default soft)
      --force               insert into existing tables, replacing documents with the
                            same primary key (without it, existing tables stop the restore)
      --keep-partial        when the restore fails or is interrupted, keep the tables and
                            databases it created (default: drop them, so that the same
                            command can be run again)
      --no-secondary-indexes  do not create secondary indexes
      --shards N            shards of created tables
      --replicas N          replicas of created tables
      --batch-size N        documents per insert query (default 1000; also capped in bytes)
${THROTTLE_HELP}
  -q, --quiet               no progress or summary
  -h, --help                this help
      --version             print versions and exit`;

const RESTORE_OPTIONS = {
  ...CONNECTION_OPTIONS,
  import: { type: "string", short: "i", multiple: true },
  exclude: { type: "string", multiple: true },
  rename: { type: "string", multiple: true },
  "dry-run": { type: "boolean" },
  clients: { type: "string" },
  "temp-dir": { type: "string" },
  "hard-durability": { type: "boolean" },
  force: { type: "boolean" },
  "keep-partial": { type: "boolean" },
  "no-secondary-indexes": { type: "boolean" },
  shards: { type: "string" },
  replicas: { type: "string" },
  "batch-size": { type: "string" },
  ...THROTTLE_OPTIONS,
} as const;

/**
 * Parses `restore`'s arguments into {@link RestoreOptions}; the password is read here.
 *
 * @example
 * ```ts
 * const options = await parseRestoreArgs(["backup.tar.gz", "-i", "league", "--force"]);
 * ```
 */
export async function parseRestoreArgs(
  args: string[],
): Promise<RestoreOptions | "help" | "version"> {
  const { values, positionals } = parseCommandLine("restore", args, RESTORE_OPTIONS, true);
  if (values.help) return "help";
  if (values.version) return "version";
  if (positionals.length === 0) {
    throw new UsageError(
      "restore: missing ARCHIVE (a .tar.gz file, or - for stdin); see `rethinkdb-backup restore --help`",
    );
  }
  if (positionals.length > 1) {
    throw new UsageError(
      `restore: one ARCHIVE expected, got ${positionals.length}: ${positionals.join(" ")}`,
    );
  }
  // Checked here so that a malformed --rename or pattern is a usage error (exit 2).
  parseRenames(stringList(values, "rename"));
  parseSelections(stringList(values, "import"));
  parseSelections(stringList(values, "exclude"), "--exclude");
  const options = {
    archive: positionals[0],
    imports: stringList(values, "import"),
    excludes: stringList(values, "exclude"),
    renames: stringList(values, "rename"),
    dryRun: values["dry-run"] === true,
    clients: positiveInteger(values, "clients", 8),
    tempDir: values["temp-dir"] === undefined ? undefined : String(values["temp-dir"]),
    hardDurability: values["hard-durability"] === true,
    force: values.force === true,
    keepPartial: values["keep-partial"] === true,
    noSecondaryIndexes: values["no-secondary-indexes"] === true,
    shards: positiveInteger(values, "shards", undefined),
    replicas: positiveInteger(values, "replicas", undefined),
    batchSize: positiveInteger(values, "batch-size", undefined),
    retryForMs: retryFor(values),
    progress: { quiet: values.quiet === true },
    ...throttleArgs(values, args),
  };
  // Last: every other mistake is reported before the password prompt and the --trace file.
  return { connect: await connectOptions(values), ...options };
}

/** Runs `restore` for the CLI: parse, restore, print the summary. Returns the exit code. */
export async function runRestoreCommand(
  args: string[],
  context: CommandContext,
): Promise<number> {
  const options = await parseRestoreArgs(args);
  if (options === "help") return context.print(RESTORE_HELP);
  if (options === "version") return context.printVersion();
  if (options.dryRun) {
    const { lines, exitCode } = await closingTrace(
      options.connect.tracer,
      context,
      () => dryRunRestore({ ...options, input: context.stdin }),
    );
    context.print(lines.join("\n"));
    return exitCode;
  }
  const summary = await closingTrace(
    options.connect.tracer,
    context,
    () => restore({ ...options, signal: context.signal, input: context.stdin }),
  );
  if (!options.progress?.quiet) context.printError(describeRestore(summary));
  return 0;
}

/**
 * The one-line summary of a finished restore; a point-in-time archive's adds the changes
 * replayed and the cut.
 *
 * @example
 * ```ts
 * describeRestore({ documents: 10, tables: 1, indexes: 0, writeHooks: 0, seconds: 1.5, incompleteTables: [], notStarted: [], documentsByTable: {} });
 * // "Restored 10 documents into 1 table, 0 secondary indexes and 0 write hooks in 1.5s"
 * ```
 */
export function describeRestore(summary: RestoreSummary): string {
  const text = `Restored ${formatCount(summary.documents)} documents into ${summary.tables} ${
    summary.tables === 1 ? "table" : "tables"
  }, ${summary.indexes} secondary ${
    summary.indexes === 1 ? "index" : "indexes"
  } and ${summary.writeHooks} write ${summary.writeHooks === 1 ? "hook" : "hooks"} in ${
    summary.seconds.toFixed(1)
  }s`;
  const replayed = summary.cut === undefined
    ? ""
    : `; ${formatCount(summary.changes ?? 0)} ${
      summary.changes === 1 ? "change" : "changes"
    } replayed, up to the cut ${summary.cut}`;
  if (summary.incompleteTables.length === 0) return text + replayed;
  return `${text}${replayed}; incomplete: ${summary.incompleteTables.join(", ")}`;
}
