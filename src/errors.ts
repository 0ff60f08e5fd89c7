/**
 * Errors the tool reports to the operator, and the exit codes they map to.
 *
 * Every failure that reaches the CLI is a {@link BackupError}: its message is one line that names
 * the problem and, where there is one, the fix. Anything else is a bug and is reported with its
 * stack trace.
 *
 * @module
 */

/** Process exit codes, documented in the README. */
export const ExitCode = {
  /** Everything requested was done. */
  Ok: 0,
  /** The operation failed (server, network, archive or file system error). */
  Failed: 1,
  /** The command line was wrong: unknown option, bad value, missing argument. */
  Usage: 2,
  /** Stopped by SIGINT (Ctrl-C). */
  Interrupted: 130,
  /** Stopped by SIGTERM. */
  Terminated: 143,
} as const;

/** One of the values of {@link ExitCode}. */
export type ExitCode = typeof ExitCode[keyof typeof ExitCode];

/**
 * A failure explained to the operator in one line.
 *
 * @example
 * ```ts
 * throw new BackupError("table `league.nope` does not exist; check -e", ExitCode.Failed);
 * ```
 */
export class BackupError extends Error {
  /** The process exit code this error maps to. */
  readonly exitCode: ExitCode;

  constructor(message: string, exitCode: ExitCode = ExitCode.Failed, options?: ErrorOptions) {
    super(message, options);
    this.name = "BackupError";
    this.exitCode = exitCode;
  }
}

/**
 * A command-line mistake; exits with {@link ExitCode.Usage}.
 *
 * @example
 * ```ts
 * throw new UsageError("--clients must be a positive integer, got `zero`");
 * ```
 */
export class UsageError extends BackupError {
  constructor(message: string) {
    super(message, ExitCode.Usage);
    this.name = "UsageError";
  }
}

/**
 * The operation was stopped by a signal; exits with 130 (SIGINT) or 143 (SIGTERM).
 *
 * @example
 * ```ts
 * throw new InterruptedError("SIGINT");
 * ```
 */
export class InterruptedError extends BackupError {
  /** The signal that stopped the operation. */
  readonly signal: "SIGINT" | "SIGTERM";

  constructor(signal: "SIGINT" | "SIGTERM") {
    super(
      `interrupted by ${signal}`,
      signal === "SIGINT" ? ExitCode.Interrupted : ExitCode.Terminated,
    );
    this.name = "InterruptedError";
    this.signal = signal;
  }
}

/** The first line of an error's message, for one-line reports of foreign errors. */
export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0];
}
