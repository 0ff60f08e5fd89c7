/**
 * The V1_0 handshake: the magic number, then NUL-terminated JSON messages carrying
 * SCRAM-SHA-256.
 *
 * @module
 */

import type { ByteStream } from "./tls_socket.ts";
import { ScramClient } from "./scram.ts";

/** The V1_0 magic number, little-endian. */
const MAGIC_V1_0 = new Uint8Array([0xc3, 0xbd, 0xc2, 0x34]);

/** Why a handshake failed. */
export type HandshakeFailure =
  /** The server closed the connection before the handshake ended. */
  | "closed"
  /** The server sent bytes that are not a handshake message. */
  | "garbage"
  /** The server refused the login (`code` and `message` set). */
  | "refused"
  /** The server's SCRAM answers are wrong. */
  | "scram";

/**
 * A failed handshake.
 *
 * @example
 * ```ts
 * const e = new HandshakeError("refused", "Wrong password", 12);
 * console.log(e.failure, e.code); // refused 12
 * ```
 */
export class HandshakeError extends Error {
  constructor(
    readonly failure: HandshakeFailure,
    message: string,
    readonly code?: number,
  ) {
    super(message);
    this.name = "HandshakeError";
  }
}

/** What the handshake leaves behind. */
export interface HandshakeResult {
  /** Bytes the server sent after the last handshake message (normally none). */
  readonly leftover: Uint8Array;
}

/**
 * Runs the handshake on an open stream.
 *
 * @example
 * ```ts
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 28015 });
 * await handshake(conn, "admin", "");
 * ```
 */
export async function handshake(
  conn: ByteStream,
  user: string,
  password: string,
): Promise<HandshakeResult> {
  const messages = new MessageReader(conn);
  const scram = new ScramClient(user, password);
  const first = JSON.stringify({
    protocol_version: 0,
    authentication_method: "SCRAM-SHA-256",
    authentication: scram.clientFirst(),
  });
  await writeAll(conn, concat(MAGIC_V1_0, nulTerminated(first)));
  expectSuccess(await messages.next());
  const serverFirst = expectSuccess(await messages.next());
  const final = await scram.clientFinal(String(serverFirst.authentication ?? ""));
  await writeAll(conn, nulTerminated(JSON.stringify({ authentication: final })));
  const serverFinal = expectSuccess(await messages.next());
  try {
    scram.verifyServerFinal(String(serverFinal.authentication ?? ""));
  } catch (error) {
    throw new HandshakeError("scram", (error as Error).message);
  }
  return { leftover: messages.leftover() };
}

function expectSuccess(message: Record<string, unknown>): Record<string, unknown> {
  if (message.success === true) return message;
  if (typeof message.error === "string") {
    const code = typeof message.error_code === "number" ? message.error_code : undefined;
    throw new HandshakeError("refused", message.error, code);
  }
  throw new HandshakeError("garbage", "the server's answer is not a handshake message");
}

/** Reads NUL-terminated JSON objects. */
class MessageReader {
  #buffer: Uint8Array = new Uint8Array(0);
  readonly #conn: ByteStream;

  constructor(conn: ByteStream) {
    this.#conn = conn;
  }

  async next(): Promise<Record<string, unknown>> {
    while (true) {
      const end = this.#buffer.indexOf(0);
      if (end >= 0) {
        const text = new TextDecoder().decode(this.#buffer.subarray(0, end));
        this.#buffer = this.#buffer.slice(end + 1);
        return parseMessage(text);
      }
      // Handshake messages are small; a server that sends a lot without a NUL is not one.
      if (this.#buffer.length > 65536 || (this.#buffer.length > 0 && this.#buffer[0] !== 0x7b)) {
        throw new HandshakeError("garbage", "the server's answer is not a handshake message");
      }
      const chunk = new Uint8Array(4096);
      let n: number | null;
      try {
        n = await this.#conn.read(chunk);
      } catch (error) {
        if (isReset(error)) throw new HandshakeError("closed", "the server closed the connection");
        throw error;
      }
      if (n === null) throw new HandshakeError("closed", "the server closed the connection");
      this.#buffer = concat(this.#buffer, chunk.subarray(0, n));
    }
  }

  leftover(): Uint8Array {
    return this.#buffer;
  }
}

function parseMessage(text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text);
    if (value !== null && typeof value === "object" && !Array.isArray(value)) return value;
  } catch {
    // Not JSON: reported below.
  }
  throw new HandshakeError("garbage", "the server's answer is not a handshake message");
}

function isReset(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.UnexpectedEof;
}

function nulTerminated(text: string): Uint8Array {
  return concat(new TextEncoder().encode(text), new Uint8Array(1));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Writes every byte.
 *
 * @example
 * ```ts
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 28015 });
 * await writeAll(conn, new Uint8Array([1]));
 * ```
 */
export async function writeAll(conn: ByteStream, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}
