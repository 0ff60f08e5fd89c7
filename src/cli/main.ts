/**
 * The command-line entry: picks the command (from the first argument, or from the program's
 * name when installed as `rethinkdb-dump` / `rethinkdb-restore`), turns SIGINT/SIGTERM into a
 * clean abort, and maps errors to one-line messages and exit codes.
 *
 * @module
 */

import { BackupError, ExitCode, InterruptedError } from "../errors.ts";
import { versionText } from "../version.ts";
import type { CommandContext } from "./context.ts";

/** Top-level `--help`. */
export const MAIN_HELP = `Usage: rethinkdb-backup <command> [options]

Hot backup and restore for RethinkDB, in one executable.

Commands:
  dump              back up tables into a tar.gz archive (rethinkdb dump compatible)
  restore ARCHIVE   load an archive into a cluster (rethinkdb restore compatible)
  list ARCHIVE      list an archive's tables, offline (--json for JSON)
  verify ARCHIVE    check an archive offline: integrity, layout, counts, SHA-256
  install-aliases DIR
                    create rethinkdb-dump and rethinkdb-restore in DIR, so that
                    \`rethinkdb dump\` and \`rethinkdb restore\` work without Python

Options:
  -h, --help        this help (\`rethinkdb-backup <command> --help\` for a command's options)
      --version     print the version, which build this is (executable, single
                    file or source), and the Deno and driver versions

Exit codes: 0 done, 1 failed (verify: problems found), 2 bad command line,
130 interrupted (SIGINT), 143 terminated.`;

/** How {@link main} was started. */
export interface MainOptions {
  /**
   * The executable's base name. `rethinkdb-dump` and `rethinkdb-restore` select the command
   * without a command argument, which is how the `rethinkdb` server binary runs them.
   */
  programName?: string;
  /** Overrides for output and cancellation (tests). */
  context?: Partial<CommandContext>;
}

/**
 * The command the program's name stands for, if any.
 *
 * @example
 * ```ts
 * commandForProgram("rethinkdb-dump"); // "dump"
 * commandForProgram("rethinkdb-restore.exe"); // "restore"
 * commandForProgram("rethinkdb-backup"); // undefined
 * ```
 */
export function commandForProgram(programName: string): "dump" | "restore" | undefined {
  const base = programName.replace(/^.*[\\/]/, "").replace(/\.(exe|cmd|bat)$/i, "");
  if (base === "rethinkdb-dump") return "dump";
  if (base === "rethinkdb-restore") return "restore";
  return undefined;
}

/**
 * Runs the CLI with `args` (without the program name) and returns the exit code. Never throws.
 *
 * @example
 * ```ts
 * const code = await main(["dump", "-c", "localhost:28015", "-f", "backup.tar.gz"]);
 * ```
 */
export async function main(args: string[], options: MainOptions = {}): Promise<number> {
  const controller = new AbortController();
  const context: CommandContext = {
    print: (text) => {
      console.log(text);
      return ExitCode.Ok;
    },
    printError: (text) => console.error(text),
    printVersion: () => {
      console.log(versionText());
      return ExitCode.Ok;
    },
    signal: controller.signal,
    ...options.context,
  };
  const removeSignals = options.context?.signal ? () => {} : listenForSignals(controller);
  try {
    return await dispatch(args, options.programName ?? programName(), context);
  } catch (error) {
    return report(error, context);
  } finally {
    removeSignals();
  }
}

async function dispatch(
  args: string[],
  program: string,
  context: CommandContext,
): Promise<number> {
  // Each command's modules load only when it runs: start-up is part of every dump's cost.
  const implied = commandForProgram(program);
  if (implied === "dump") {
    return await (await import("./dump_command.ts")).runDumpCommand(args, context);
  }
  if (implied === "restore") {
    return await (await import("./restore_command.ts")).runRestoreCommand(args, context);
  }
  const [command, ...rest] = args;
  switch (command) {
    case "dump":
      return await (await import("./dump_command.ts")).runDumpCommand(rest, context);
    case "restore":
      return await (await import("./restore_command.ts")).runRestoreCommand(rest, context);
    case "list":
      return await (await import("./list_command.ts")).runListCommand(rest, context);
    case "verify":
      return await (await import("./verify_command.ts")).runVerifyCommand(rest, context);
    case "install-aliases":
      return await (await import("./install_aliases.ts")).runInstallAliasesCommand(rest, context);
    case "-h":
    case "--help":
    case "help":
      return context.print(MAIN_HELP);
    case "--version":
    case "-V":
      return context.printVersion();
    case undefined:
      context.printError(MAIN_HELP);
      return ExitCode.Usage;
    default:
      context.printError(
        `rethinkdb-backup: unknown command \`${command}\`; use dump, restore, list, verify or install-aliases (see --help)`,
      );
      return ExitCode.Usage;
  }
}

function report(error: unknown, context: CommandContext): number {
  if (error instanceof BackupError) {
    const summary = (error as { summary?: unknown }).summary;
    if (typeof summary === "string") context.printError(summary);
    context.printError(`rethinkdb-backup: error: ${error.message}`);
    return error.exitCode;
  }
  context.printError(
    `rethinkdb-backup: internal error (please report it): ${
      error instanceof Error ? error.stack ?? error.message : String(error)
    }`,
  );
  return ExitCode.Failed;
}

function programName(): string {
  try {
    return Deno.execPath().replace(/^.*[\\/]/, "");
  } catch {
    return "rethinkdb-backup";
  }
}

/**
 * SIGINT/SIGTERM abort the running command, which cleans up and exits 130/143; a second
 * signal exits at once.
 */
function listenForSignals(controller: AbortController): () => void {
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const handlers = signals.map((signal) => {
    const handler = () => {
      if (controller.signal.aborted) {
        Deno.exit(signal === "SIGINT" ? ExitCode.Interrupted : ExitCode.Terminated);
      }
      controller.abort(new InterruptedError(signal as "SIGINT" | "SIGTERM"));
    };
    Deno.addSignalListener(signal, handler);
    return () => Deno.removeSignalListener(signal, handler);
  });
  return () => handlers.forEach((remove) => remove());
}
