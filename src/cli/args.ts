/**
 * Shared command-line parsing: `node:util`'s `parseArgs` with errors turned into one-line
 * usage errors, and the connection options both commands take.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { parseAddress } from "../connection/address.ts";
import type { ConnectOptions } from "../connection/driver.ts";
import type { CommandContext } from "./context.ts";
import { readPassword } from "../connection/password.ts";
import { Tracer } from "../connection/trace.ts";
import { UsageError } from "../errors.ts";

/** Option definitions for `parseArgs`. */
export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

/** The connection options shared by `dump` and `restore`. */
export const CONNECTION_OPTIONS = {
  connect: { type: "string", short: "c" },
  user: { type: "string", short: "u" },
  password: { type: "boolean", short: "p" },
  "password-file": { type: "string" },
  "tls-cert": { type: "string" },
  "retry-for": { type: "string" },
  trace: { type: "string" },
  quiet: { type: "boolean", short: "q" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const satisfies OptionSpec;

/** Help text for {@link CONNECTION_OPTIONS}. */
export const CONNECTION_HELP = `Connection options:
  -c, --connect HOST:PORT   server to connect to (default localhost:28015; [IPV6]:PORT works)
  -u, --user USER           user name (default admin)
  -p, --password            prompt for the password (no echo)
      --password-file FILE  read the password from the first line of FILE
      --tls-cert FILE       connect with TLS, verifying the server against this CA certificate
      --retry-for TIME      how long to ride out a lost connection, a restart or an
                            unavailable table before giving up: 90s, 5m, 0 (default 60s)
      --trace FILE          write a JSON line per query, connection and retry to FILE
                            (created afresh; no passwords, no document contents)`;

/** Parsed flags: strings, booleans, or lists of strings for repeatable options. */
export type ParsedValues = Record<string, string | boolean | string[] | undefined>;

/**
 * Parses `args` strictly against `options`, reporting mistakes as {@link UsageError}s that name
 * the command.
 *
 * @example
 * ```ts
 * const { values, positionals } = parseCommandLine("dump", ["-q"], CONNECTION_OPTIONS, false);
 * ```
 */
export function parseCommandLine(
  command: string,
  args: string[],
  options: OptionSpec,
  allowPositionals: boolean,
): { values: ParsedValues; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args,
      options,
      allowPositionals,
      strict: true,
    });
    return { values: values as ParsedValues, positionals };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(
      `${command}: ${describeParseError(message)}; see \`rethinkdb-backup ${command} --help\``,
    );
  }
}

function describeParseError(message: string): string {
  const unknown = message.match(/Unknown option '([^']+)'/);
  if (unknown) return `unknown option ${unknown[1]}`;
  const missing = message.match(/Option '([^']+)' argument missing/);
  if (missing) {
    return `option ${missing[1].split(",").pop()?.replace("<value>", "").trim()} needs a value`;
  }
  const ambiguous = message.match(/Option '([^']+)' argument is ambiguous/);
  if (ambiguous) {
    return `option ${ambiguous[1]} needs a value (to pass one starting with -, write ${
      ambiguous[1]
    }=VALUE)`;
  }
  const positional = message.match(/Unexpected argument '([^']+)'/);
  if (positional) return `unexpected argument \`${positional[1]}\``;
  return message.split("\n")[0].replace(/\.$/, "");
}

/**
 * Reads a positive integer option, or `fallback` when absent.
 *
 * @example
 * ```ts
 * positiveInteger({ clients: "4" }, "clients", 3); // 4
 * ```
 */
export function positiveInteger(
  values: ParsedValues,
  name: string,
  fallback: number | undefined,
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const text = String(raw);
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    throw new UsageError(`--${name} must be a positive integer, got \`${text}\``);
  }
  return Number(text);
}

/**
 * Reads `--retry-for`: a duration in `ms`, `s` (the default unit), `m` or `h`, as milliseconds;
 * `undefined` when absent.
 *
 * @example
 * ```ts
 * retryFor({ "retry-for": "90s" }); // 90_000
 * retryFor({ "retry-for": "5m" }); // 300_000
 * ```
 */
export function retryFor(values: ParsedValues): number | undefined {
  const raw = values["retry-for"];
  if (raw === undefined) return undefined;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(String(raw));
  if (!match) {
    throw new UsageError(
      `--retry-for must be a duration such as 90s, 5m or 0, got \`${String(raw)}\``,
    );
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? "s"]!;
  return Math.round(Number(match[1]) * unit);
}

/** A list option (`-e`, `-i`) as an array. */
export function stringList(values: ParsedValues, name: string): string[] {
  const raw = values[name];
  if (raw === undefined) return [];
  return Array.isArray(raw) ? raw : [String(raw)];
}

/**
 * Builds the connection options, reading the password from its source (prompt or file), and
 * with `--trace FILE` creating FILE (a one-line error, exit 1, when it cannot be). Call it
 * after every other check of the command line: the tracer it opens is the caller's to close.
 *
 * @example
 * ```ts
 * const connect = await connectOptions({ connect: "db1:28015", user: "backup" });
 * ```
 */
export async function connectOptions(values: ParsedValues): Promise<ConnectOptions> {
  const address = parseAddress(String(values.connect ?? ""));
  const user = values.user === undefined ? "admin" : String(values.user);
  if (user === "") throw new UsageError("--user must not be empty");
  const password = await readPassword({
    prompt: values.password === true,
    file: values["password-file"] === undefined ? undefined : String(values["password-file"]),
  });
  const tls = values["tls-cert"];
  const trace = values.trace === undefined ? undefined : String(values.trace);
  if (trace === "") throw new UsageError("--trace must not be empty");
  const options: ConnectOptions = {
    ...address,
    user,
    password,
    tlsCaFile: tls === undefined ? undefined : String(tls),
  };
  // Last, so that no mistake found above leaves the file open; before any connection.
  if (trace !== undefined) options.tracer = await Tracer.open(trace);
  return options;
}

/**
 * Runs a command's work, then closes its `--trace` file however the work ends (done, failed,
 * interrupted by SIGINT), so that the file holds every line; a trace that could not be written
 * whole is a warning, never the command's failure.
 *
 * @example
 * ```ts
 * const options = await parseDumpArgs(args);
 * const summary = await closingTrace(options.connect.tracer, context, () => dump(options));
 * ```
 */
export async function closingTrace<T>(
  tracer: Tracer | undefined,
  context: Pick<CommandContext, "printError">,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } finally {
    if (tracer) {
      await tracer.close();
      const problem = tracer.problem;
      if (problem) context.printError(`warning: ${problem}`);
    }
  }
}
