/**
 * Opening the socket of a connection, and the one-line errors of a failed connection or login.
 *
 * @module
 */

import { BackupError } from "../errors.ts";
import type { ConnectOptions } from "./driver.ts";
import { HandshakeError } from "./handshake.ts";
import type { ByteStream } from "./tls_socket.ts";

/**
 * Opens the TCP or (with a CA) TLS socket.
 *
 * @example
 * ```ts
 * const stream = await openSocket({ host: "localhost", port: 28015 }, undefined);
 * stream.close();
 * ```
 */
export async function openSocket(
  options: ConnectOptions,
  ca: string | undefined,
): Promise<ByteStream> {
  if (ca === undefined) {
    const conn = await Deno.connect({ hostname: options.host, port: options.port });
    // Queries go out pipelined (a table's metadata queries together, many inserts and schema
    // changes on one connection): with Nagle's algorithm each small write after the first
    // waits for the server's delayed ACK, about 40 ms on Linux.
    conn.setNoDelay(true);
    return conn;
  }
  // Loaded only for TLS: Node's TLS layer costs start-up time that plain connections don't need.
  const { openTls } = await import("./tls_socket.ts");
  try {
    return await openTls(options.host, options.port, ca);
  } catch (error) {
    if (isNetworkError(error)) throw error;
    throw new TlsFailure(error);
  }
}

function isNetworkError(error: unknown): boolean {
  const code = (error as { code?: string })?.code ?? "";
  return ["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH"].includes(code);
}

/** A failed TLS handshake. */
class TlsFailure extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

/**
 * Turns a failure to connect or log in into one line naming the server and what to do.
 *
 * @example
 * ```ts
 * const e = describeConnectError(new Error("connection refused"), "db:28015", { host: "db", port: 28015 });
 * console.log(e.message); // cannot connect to db:28015: connection refused; ...
 * ```
 */
export function describeConnectError(
  error: unknown,
  where: string,
  options: ConnectOptions,
): BackupError {
  const text = error instanceof Error ? error.message : String(error);
  const user = options.user ?? "admin";
  if (error instanceof HandshakeError && error.failure === "refused") {
    if (error.code === 12 || /wrong password/i.test(text)) {
      return new BackupError(
        `cannot log in to ${where} as \`${user}\`: wrong password; give the right one with -p or --password-file`,
      );
    }
    if (error.code === 17 || /unknown user/i.test(text)) {
      return new BackupError(`cannot log in to ${where}: unknown user \`${user}\`; check -u`);
    }
    return new BackupError(`cannot log in to ${where}: ${firstLineOf(text)}`);
  }
  if (error instanceof HandshakeError && error.failure === "scram") {
    return new BackupError(`cannot log in to ${where}: ${firstLineOf(text)}`);
  }
  const closed = (error instanceof HandshakeError) ||
    error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset;
  if (closed && !options.tlsCaFile) {
    return new BackupError(
      `cannot connect to ${where}: the server ${
        error instanceof HandshakeError && error.failure === "garbage"
          ? "answered with something other than the RethinkDB handshake"
          : "closed the connection during the handshake"
      }; it may require TLS: pass --tls-cert CA.pem`,
    );
  }
  if (error instanceof Deno.errors.ConnectionRefused || /refused/i.test(text)) {
    return new BackupError(
      `cannot connect to ${where}: connection refused; is RethinkDB running there? (set the address with -c HOST:PORT)`,
    );
  }
  if (/lookup|resolve|not known|no address|nodename/i.test(text)) {
    return new BackupError(
      `cannot connect to ${where}: host \`${options.host}\` not found; check -c HOST:PORT`,
    );
  }
  if (options.tlsCaFile || error instanceof TlsFailure) {
    return new BackupError(
      `TLS connection to ${where} failed: ${
        firstLineOf(text)
      }; check --tls-cert and that the server has TLS enabled`,
    );
  }
  return new BackupError(`cannot connect to ${where}: ${firstLineOf(text)}`);
}

function firstLineOf(text: string): string {
  return text.split("\n")[0].replace(/\.$/, "");
}
