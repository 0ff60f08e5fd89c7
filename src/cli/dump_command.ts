/**
 * `rethinkdb-backup dump`: command-line options → {@link DumpOptions} → {@link dump}.
 *
 * @module
 */

import { dump } from "../dump/run.ts";
import type { DumpOptions, DumpSummary } from "../dump/options.ts";
import { UsageError } from "../errors.ts";
import { formatCount } from "../progress/progress.ts";
import {
  closingTrace,
  CONNECTION_HELP,
  CONNECTION_OPTIONS,
  connectOptions,
  parseCommandLine,
  type ParsedValues,
  positiveInteger,
  retryFor,
  stringList,
} from "./args.ts";
import type { CommandContext } from "./context.ts";
import { THROTTLE_HELP, THROTTLE_OPTIONS, throttleArgs } from "./throttle_args.ts";

/** `dump --help`. */
export const DUMP_HELP = `Usage: rethinkdb-backup dump [options]

Hot backup of a RethinkDB cluster into a tar.gz archive that the official
\`rethinkdb restore\` (and \`rethinkdb-backup restore\`) can load.

${CONNECTION_HELP}

Dump options:
  -f, --file FILE           archive to write (default rethinkdb_dump_<date>T<time>.tar.gz
                            in the current directory); \`-\` streams it to stdout (implies -q)
      --overwrite-file      replace FILE if it exists
  -e, --export DB[.TABLE]   only this database or table; repeatable (default: every table
                            of every database except the system database \`rethinkdb\`);
                            * and ? are wildcards: -e 'league.*' -e 'logs_2026_*'
      --exclude DB[.TABLE]  leave this out, after -e; repeatable, wildcards allowed
      --clients N           tables exported at once (default 3)
      --temp-dir DIR        where tables are spooled while read (default: beside FILE)
      --read-outdated       read with read_mode "outdated" (faster, may be stale)
      --no-capture          no point in time: skip the changefeeds that bring every table
                            to one cut (each table is then as it was read, at its own
                            moments; see "Point in time" in the README)
      --compression-level N gzip level 1 (fastest) to 9 (smallest), default 6
      --compression-nice N  CPU priority of compression, 0 (the tool's own) to 19 (only
                            what the server leaves idle; default 19, Linux only)
${THROTTLE_HELP}
  -q, --quiet               no progress or summary
  -h, --help                this help
      --version             print versions and exit`;

const DUMP_OPTIONS = {
  ...CONNECTION_OPTIONS,
  file: { type: "string", short: "f" },
  "overwrite-file": { type: "boolean" },
  export: { type: "string", short: "e", multiple: true },
  exclude: { type: "string", multiple: true },
  clients: { type: "string" },
  "temp-dir": { type: "string" },
  "read-outdated": { type: "boolean" },
  "no-capture": { type: "boolean" },
  "compression-level": { type: "string" },
  "compression-nice": { type: "string" },
  ...THROTTLE_OPTIONS,
} as const;

/**
 * Parses `dump`'s arguments into {@link DumpOptions}; the password is read here.
 *
 * @example
 * ```ts
 * const options = await parseDumpArgs(["-c", "db1", "-e", "league", "-f", "-"]);
 * ```
 */
export async function parseDumpArgs(args: string[]): Promise<DumpOptions | "help" | "version"> {
  const { values } = parseCommandLine("dump", args, DUMP_OPTIONS, false);
  if (values.help) return "help";
  if (values.version) return "version";
  const file = values.file === undefined ? undefined : String(values.file);
  if (file === "") throw new UsageError("--file must not be empty");
  const options = {
    file,
    overwrite: values["overwrite-file"] === true,
    exports: stringList(values, "export"),
    excludes: stringList(values, "exclude"),
    clients: positiveInteger(values, "clients", 3),
    tempDir: values["temp-dir"] === undefined ? undefined : String(values["temp-dir"]),
    readOutdated: values["read-outdated"] === true,
    capture: values["no-capture"] !== true,
    compressionLevel: compressionLevel(values),
    compressionNice: compressionNice(values),
    retryForMs: retryFor(values),
    progress: { quiet: values.quiet === true || file === "-" },
    ...throttleArgs(values, args),
  };
  // Last: every other mistake is reported before the password prompt and the --trace file.
  return { connect: await connectOptions(values), ...options };
}

function compressionLevel(values: ParsedValues): number | undefined {
  const level = positiveInteger(values, "compression-level", undefined);
  if (level !== undefined && level > 9) {
    throw new UsageError(`--compression-level must be 1 to 9, got \`${level}\``);
  }
  return level;
}

function compressionNice(values: ParsedValues): number | undefined {
  const text = values["compression-nice"];
  if (text === undefined) return undefined;
  const nice = Number(text);
  if (!/^\d+$/.test(String(text)) || nice > 19) {
    throw new UsageError(`--compression-nice must be 0 to 19, got \`${text}\``);
  }
  return nice;
}

/** Runs `dump` for the CLI: parse, dump, print the summary. Returns the exit code. */
export async function runDumpCommand(args: string[], context: CommandContext): Promise<number> {
  const options = await parseDumpArgs(args);
  if (options === "help") return context.print(DUMP_HELP);
  if (options === "version") return context.printVersion();
  const summary = await closingTrace(
    options.connect.tracer,
    context,
    () => dump({ ...options, signal: context.signal }),
  );
  if (!options.progress?.quiet) context.printError(describeDump(summary));
  return 0;
}

/**
 * The one-line summary of a finished dump.
 *
 * @example
 * ```ts
 * describeDump({
 *   file: "x.tar.gz", documents: 10, tables: 1, indexes: 0, writeHooks: 0, seconds: 1.5,
 *   jsonBytes: 100, changes: 2, cut: new Date("2026-12-06T10:00:00Z"),
 * });
 * ```
 */
export function describeDump(summary: DumpSummary): string {
  return `Dumped ${formatCount(summary.documents)} documents from ${summary.tables} ${
    plural(summary.tables, "table")
  }, ${summary.indexes} secondary ${
    plural(summary.indexes, "index", "indexes")
  } and ${summary.writeHooks} write ${plural(summary.writeHooks, "hook")} to ${summary.file} in ${
    summary.seconds.toFixed(1)
  }s${
    summary.cut
      ? `, at one point in time (${summary.cut.toISOString()}, ${formatCount(summary.changes)} ${
        plural(summary.changes, "change")
      } captured)`
      : ""
  }`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return n === 1 ? one : many;
}
