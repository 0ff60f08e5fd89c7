/**
 * What a command needs from the process around it, injectable so tests can run commands
 * in-process.
 *
 * @module
 */

/** Input, output and cancellation for a command. */
export interface CommandContext {
  /** Prints to stdout; returns exit code 0 for convenience. */
  print(text: string): number;
  /** Prints to stderr. */
  printError(text: string): void;
  /** Prints `--version`; returns 0. */
  printVersion(): number;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
  /** What an archive named `-` is read from; the process's stdin when absent. */
  stdin?: ReadableStream<Uint8Array>;
}
