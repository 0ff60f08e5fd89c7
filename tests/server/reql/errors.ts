/**
 * Errors raised while running a query. Each one knows which response it becomes: a runtime error
 * (`t:18`, with an `e` category), a compile error (`t:17`) or a client error (`t:16`), plus the
 * backtrace `b`: the path from the query's root term to the term that failed.
 *
 * @module
 */

import { ErrorType, ResponseType } from "./proto.ts";

/** One step of a backtrace: a positional argument index or an optional argument name. */
export type Frame = number | string;

/** Base class of every error that is answered to the client instead of crashing the server. */
export class ReqlError extends Error {
  /** Path from the root term to the failing term, filled in while the error unwinds. */
  readonly frames: Frame[] = [];

  constructor(
    message: string,
    /** `t` of the response. */
    readonly responseType: number,
    /** `e` of the response (runtime errors only). */
    readonly errorType?: number,
  ) {
    super(message);
  }

  /** Prepends a frame; called by each enclosing term as the error passes through it. */
  at(frame: Frame): this {
    this.frames.unshift(frame);
    return this;
  }
}

/** A runtime error (`t:18`); `errorType` defaults to OP_FAILED, the category of most admin errors. */
export class ReqlRuntimeError extends ReqlError {
  constructor(message: string, errorType: number = ErrorType.OP_FAILED) {
    super(message, ResponseType.RUNTIME_ERROR, errorType);
  }
}

/** A compile error (`t:17`): the query is malformed, nothing of it was run. */
export class ReqlCompileError extends ReqlError {
  constructor(message: string) {
    super(message, ResponseType.COMPILE_ERROR);
  }
}

/** A client error (`t:16`), e.g. CONTINUE on a token the server does not know. */
export class ReqlClientError extends ReqlError {
  constructor(message: string) {
    super(message, ResponseType.CLIENT_ERROR);
  }
}

/** Shorthand for a QUERY_LOGIC runtime error (wrong types, bad arguments). */
export function logicError(message: string): ReqlRuntimeError {
  return new ReqlRuntimeError(message, ErrorType.QUERY_LOGIC);
}

/** Shorthand for a NON_EXISTENCE runtime error (missing field, index out of bounds). */
export function missingError(message: string): ReqlRuntimeError {
  return new ReqlRuntimeError(message, ErrorType.NON_EXISTENCE);
}

/** The error raised for a term this test server does not implement. */
export function unsupported(what: string): ReqlRuntimeError {
  return new ReqlRuntimeError(
    `The test server does not implement ${what}.`,
    ErrorType.INTERNAL,
  );
}

/**
 * Raised by `wait()` while a table it waits for is not ready (after a simulated restart). It is
 * answered as is, `Timed out while waiting for tables.` (the real server's text), only if
 * `timeoutMs` passes first: the connection waits for `ready` and then runs the query again, which
 * is exact for queries whose only step with side effects is the `wait()` itself.
 */
export class WaitForTables extends ReqlRuntimeError {
  constructor(
    /** Resolves when the tables waited for are ready. */
    readonly ready: Promise<void>,
    /** The `timeout` optarg in ms, or undefined to wait as long as it takes. */
    readonly timeoutMs: number | undefined,
  ) {
    super("Timed out while waiting for tables.", ErrorType.OP_FAILED);
  }
}
