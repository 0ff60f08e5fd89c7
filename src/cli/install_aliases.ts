/**
 * `rethinkdb-backup install-aliases DIR`: makes `rethinkdb-dump` and `rethinkdb-restore` in DIR.
 *
 * The `rethinkdb` server binary runs `rethinkdb dump …` as `execvp("rethinkdb-dump", …)`, so
 * with DIR on PATH the server's own subcommands reach this tool, no Python needed. A compiled
 * executable gets hard links (or copies, across file systems) of itself, and picks its command
 * from its name; under `deno run` the aliases are small shell scripts that run this module.
 *
 * @module
 */

import { BackupError, UsageError } from "../errors.ts";
import { parseCommandLine } from "./args.ts";
import type { CommandContext } from "./context.ts";
import { PERMISSION_FLAGS } from "./permissions.ts";

/** `install-aliases --help`. */
export const INSTALL_ALIASES_HELP = `Usage: rethinkdb-backup install-aliases DIR [--force]

Creates rethinkdb-dump and rethinkdb-restore in DIR. With DIR on PATH, the server
binary's \`rethinkdb dump\` and \`rethinkdb restore\` run this tool.

  --force   replace existing files of those names
  -h, --help`;

/** Where the aliases point. */
export interface AliasTarget {
  /** The running executable (compiled binary or `deno`). */
  execPath: string;
  /** The main module URL, used when running under `deno run`. */
  mainModule: string;
}

/** Names of the aliases, with `.exe`/`.cmd` on Windows. */
export function aliasNames(os: string = Deno.build.os, compiled = true): string[] {
  const suffix = os === "windows" ? (compiled ? ".exe" : ".cmd") : "";
  return [`rethinkdb-dump${suffix}`, `rethinkdb-restore${suffix}`];
}

/** True when running as a `deno compile` executable rather than under `deno`. */
export function isCompiled(execPath: string = Deno.execPath()): boolean {
  const base = execPath.replace(/^.*[\\/]/, "").replace(/\.exe$/i, "");
  return base !== "deno";
}

/**
 * Creates the two aliases in `dir` and returns their paths.
 *
 * @example
 * ```ts
 * await installAliases("/usr/local/bin", { force: true });
 * ```
 */
export async function installAliases(
  dir: string,
  options: { force?: boolean; target?: AliasTarget; os?: string } = {},
): Promise<string[]> {
  const target = options.target ?? { execPath: Deno.execPath(), mainModule: Deno.mainModule };
  const os = options.os ?? Deno.build.os;
  const compiled = isCompiled(target.execPath);
  try {
    const info = await Deno.stat(dir);
    if (!info.isDirectory) throw new BackupError(`install-aliases: ${dir} is not a directory`);
  } catch (error) {
    if (error instanceof BackupError) throw error;
    throw new BackupError(`install-aliases: directory ${dir} does not exist; create it first`);
  }
  const created: string[] = [];
  for (const name of aliasNames(os, compiled)) {
    const path = `${dir.replace(/[\\/]$/, "")}/${name}`;
    if (await exists(path)) {
      if (!options.force) {
        throw new BackupError(`install-aliases: ${path} already exists; use --force to replace it`);
      }
      await Deno.remove(path);
    }
    const command = name.startsWith("rethinkdb-dump") ? "dump" : "restore";
    if (compiled) await linkOrCopy(target.execPath, path);
    else await Deno.writeTextFile(path, aliasScript(target, command, os), { mode: 0o755 });
    created.push(path);
  }
  return created;
}

/**
 * The script an alias runs under `deno run`: this module with the tool's permissions and the
 * command, passing the arguments through.
 *
 * @example
 * ```ts
 * aliasScript({ execPath: "/usr/bin/deno", mainModule: "file:///opt/rethinkdb-backup.js" }, "dump", "linux");
 * // "#!/bin/sh\n…exec '/usr/bin/deno' run --allow-net … 'file:///opt/rethinkdb-backup.js' dump \"$@\"\n"
 * ```
 */
export function aliasScript(target: AliasTarget, command: string, os: string): string {
  // Run from a URL (`deno run https://…/rethinkdb-backup.js`), the alias must be allowed to
  // fetch it again: Deno trusts only a few hosts by default.
  const remote = /^https?:/.test(target.mainModule)
    ? [`--allow-import=${new URL(target.mainModule).host}`]
    : [];
  const flags = [...remote, ...PERMISSION_FLAGS].join(" ");
  if (os === "windows") {
    return `@echo off\r\n"${target.execPath}" run ${flags} "${target.mainModule}" ${command} %*\r\n`;
  }
  return `#!/bin/sh\n# Created by rethinkdb-backup install-aliases.\nexec ${
    shellQuote(target.execPath)
  } run ${flags} ${shellQuote(target.mainModule)} ${command} "$@"\n`;
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await Deno.link(from, to);
  } catch {
    await Deno.copyFile(from, to);
    await Deno.chmod(to, 0o755).catch(() => {});
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs `install-aliases` for the CLI. */
export async function runInstallAliasesCommand(
  args: string[],
  context: CommandContext,
): Promise<number> {
  const { values, positionals } = parseCommandLine("install-aliases", args, {
    force: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  }, true);
  if (values.help) return context.print(INSTALL_ALIASES_HELP);
  if (positionals.length !== 1) {
    throw new UsageError("install-aliases: give exactly one DIR; see --help");
  }
  const created = await installAliases(positionals[0], { force: values.force === true });
  for (const path of created) context.printError(`created ${path}`);
  return 0;
}
