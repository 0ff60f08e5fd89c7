/**
 * The V1_0 connection handshake: magic number, server version message, then the two SCRAM
 * round trips, each message a NUL-terminated JSON object. Messages are byte-for-byte the ones
 * recorded from RethinkDB 2.4.4.
 *
 * @module
 */

import { MAGIC_V1_0 } from "../reql/proto.ts";
import type { Users } from "../store/users.ts";
import { type ByteReader, encodeNullTerminated } from "./framing.ts";
import { AuthError, ScramServer } from "./scram.ts";

/** The handshake message size limit (RethinkDB rejects oversized handshake messages too). */
const MAX_MESSAGE = 16 * 1024;

/** The reply to a client speaking another protocol version (pre-V1_0 servers' text). */
const BAD_MAGIC = "ERROR: Received an unsupported protocol version. This port is for RethinkDB " +
  "queries. Does your client driver version not match the server?\n";

/** How to send bytes back. */
export type Send = (bytes: Uint8Array) => Promise<void>;

async function readJson(reader: ByteReader): Promise<Record<string, unknown> | null> {
  const bytes = await reader.readNullTerminated(MAX_MESSAGE);
  if (bytes === null) return null;
  try {
    const value = JSON.parse(new TextDecoder().decode(bytes));
    return typeof value === "object" && value !== null ? value : {};
  } catch {
    throw new AuthError(10, "Invalid encoding");
  }
}

/**
 * Runs the handshake; returns the authenticated user name, or null if the connection must be
 * closed (after the error message was sent).
 */
export async function handshake(
  reader: ByteReader,
  send: Send,
  users: Users,
): Promise<string | null> {
  const magic = await reader.readExact(4);
  if (magic === null) return null;
  if (new DataView(magic.buffer).getUint32(0, true) !== MAGIC_V1_0) {
    await send(encodeNullTerminated(BAD_MAGIC));
    return null;
  }
  await send(encodeNullTerminated(JSON.stringify({
    max_protocol_version: 0,
    min_protocol_version: 0,
    server_version: "2.4.4",
    success: true,
  })));
  try {
    const first = await readJson(reader);
    if (first === null) return null;
    if (first.protocol_version !== 0) {
      throw new AuthError(
        2,
        `Unsupported protocol version ${JSON.stringify(first.protocol_version)}, expected 0.`,
      );
    }
    if (first.authentication_method !== "SCRAM-SHA-256") {
      throw new AuthError(2, "Unknown authentication method.");
    }
    const scram = new ScramServer(users);
    const serverFirst = scram.first(String(first.authentication ?? ""));
    await send(
      encodeNullTerminated(JSON.stringify({ authentication: serverFirst, success: true })),
    );
    const final = await readJson(reader);
    if (final === null) return null;
    const serverFinal = scram.final(String(final.authentication ?? ""));
    await send(
      encodeNullTerminated(JSON.stringify({ authentication: serverFinal, success: true })),
    );
    const user = /(?:^|,)n=([^,]*)/.exec(String(first.authentication))?.[1] ?? "admin";
    return user;
  } catch (e) {
    if (!(e instanceof AuthError)) throw e;
    await send(encodeNullTerminated(JSON.stringify({
      error: e.message,
      error_code: e.code,
      success: false,
    })));
    return null;
  }
}
