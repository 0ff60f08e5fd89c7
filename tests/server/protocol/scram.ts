/**
 * The server side of SCRAM-SHA-256 (RFC 7677) as RethinkDB implements it, with its error codes
 * and messages (from RethinkDB's `scram_authenticator.cc`): 10 "Invalid encoding",
 * 12 "Wrong password", 17 "Unknown user", 20 "Other error".
 *
 * For an unknown user RethinkDB still answers the first message with a made-up salt, and fails
 * the final one with "Unknown user"; this does the same.
 *
 * @module
 */

import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";
import { makePassword, type PasswordRecord, type Users } from "../store/users.ts";

/** A handshake failure, answered as `{"error", "error_code", "success": false}`. */
export class AuthError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

function attributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(",")) {
    const eq = part.indexOf("=");
    if (eq !== 1) throw new AuthError(10, "Invalid encoding");
    out.set(part[0], part.slice(2));
  }
  return out;
}

function hmac(key: Uint8Array, text: string): Buffer {
  return createHmac("sha256", key).update(text).digest();
}

/** One authentication exchange. */
export class ScramServer {
  #clientFirstBare = "";
  #serverFirst = "";
  #nonce = "";
  #password: PasswordRecord | undefined;
  #knownUser = false;

  constructor(private readonly users: Users) {}

  /** Handles `n,,n=user,r=clientNonce`; returns `r=nonce,s=salt,i=iterations`. */
  first(message: string): string {
    if (!message.startsWith("n,")) throw new AuthError(15, "Channel binding is not supported");
    const bareAt = message.indexOf(",", 2);
    if (bareAt < 0) throw new AuthError(10, "Invalid encoding");
    this.#clientFirstBare = message.slice(bareAt + 1);
    const attrs = attributes(this.#clientFirstBare);
    const user = attrs.get("n");
    const clientNonce = attrs.get("r");
    if (user === undefined || clientNonce === undefined) {
      throw new AuthError(10, "Invalid encoding");
    }
    const name = user.replaceAll("=2C", ",").replaceAll("=3D", "=");
    this.#password = this.users.get(name);
    this.#knownUser = this.#password !== undefined;
    // Unknown users get a throw-away password so the answer does not reveal that they are unknown.
    this.#password ??= makePassword(crypto.randomUUID());
    // RethinkDB 2.4.4 appends 20 base64 characters to the client nonce.
    this.#nonce = clientNonce + randomBytes(15).toString("base64");
    this.#serverFirst = `r=${this.#nonce},s=${
      Buffer.from(this.#password.salt).toString("base64")
    },i=${this.#password.iterations}`;
    return this.#serverFirst;
  }

  /** Handles `c=biws,r=nonce,p=proof`; returns `v=serverSignature`. */
  final(message: string): string {
    if (!this.#knownUser) throw new AuthError(17, "Unknown user");
    const password = this.#password!;
    const attrs = attributes(message);
    if (attrs.get("c") !== "biws") throw new AuthError(10, "Invalid encoding");
    if (attrs.get("r") !== this.#nonce) throw new AuthError(20, "Other error");
    const proof = attrs.get("p");
    if (proof === undefined) throw new AuthError(10, "Invalid encoding");
    const withoutProof = message.slice(0, message.indexOf(",p="));
    const authMessage = `${this.#clientFirstBare},${this.#serverFirst},${withoutProof}`;
    const clientKey = hmac(password.saltedPassword, "Client Key");
    const storedKey = createHash("sha256").update(clientKey).digest();
    const signature = hmac(storedKey, authMessage);
    const expected = Buffer.alloc(clientKey.length);
    for (let i = 0; i < clientKey.length; i++) expected[i] = clientKey[i] ^ signature[i];
    const given = Buffer.from(proof, "base64");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new AuthError(12, "Wrong password");
    }
    const serverKey = hmac(password.saltedPassword, "Server Key");
    return `v=${hmac(serverKey, authMessage).toString("base64")}`;
  }
}
