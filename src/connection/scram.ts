/**
 * The client side of SCRAM-SHA-256 (RFC 5802 / 7677) as RethinkDB uses it: PBKDF2 with the
 * server's salt and iteration count, and a check of the server's signature.
 *
 * @module
 */

import { decodeBase64, encodeBase64 } from "./base64.ts";

/** A failed check of the server's answers. */
export class ScramError extends Error {}

/**
 * One SCRAM-SHA-256 exchange.
 *
 * @example
 * ```ts
 * const scram = new ScramClient("admin", "");
 * console.log(scram.clientFirst()); // n,,n=admin,r=...
 * ```
 */
export class ScramClient {
  readonly #user: string;
  readonly #password: string;
  readonly #nonce: string;
  #serverSignature: Uint8Array<ArrayBuffer> | undefined;

  constructor(user: string, password: string, nonce?: string) {
    this.#user = user.replaceAll("=", "=3D").replaceAll(",", "=2C");
    this.#password = password;
    this.#nonce = nonce ?? encodeBase64(crypto.getRandomValues(new Uint8Array(18)));
  }

  #bare(): string {
    return `n=${this.#user},r=${this.#nonce}`;
  }

  /** The client-first message. */
  clientFirst(): string {
    return `n,,${this.#bare()}`;
  }

  /** Computes the client-final message from the server-first one (`r=…,s=…,i=…`). */
  async clientFinal(serverFirst: string): Promise<string> {
    const attrs = parseAttributes(serverFirst);
    const nonce = attrs.get("r") ?? "";
    const salt = attrs.get("s");
    const iterations = Number(attrs.get("i"));
    if (!nonce.startsWith(this.#nonce) || salt === undefined || !(iterations > 0)) {
      throw new ScramError("the server's authentication answer is malformed");
    }
    const saltedPassword = new Uint8Array(
      await crypto.subtle.deriveBits(
        { name: "PBKDF2", hash: "SHA-256", salt: decodeBase64(salt), iterations },
        await crypto.subtle.importKey(
          "raw",
          new TextEncoder().encode(this.#password),
          "PBKDF2",
          false,
          ["deriveBits"],
        ),
        256,
      ),
    );
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.#bare()},${serverFirst},${withoutProof}`;
    const clientKey = await hmac(saltedPassword, "Client Key");
    const storedKey = new Uint8Array(await crypto.subtle.digest("SHA-256", clientKey));
    const signature = await hmac(storedKey, authMessage);
    const proof = clientKey.map((byte, i) => byte ^ signature[i]);
    this.#serverSignature = await hmac(await hmac(saltedPassword, "Server Key"), authMessage);
    return `${withoutProof},p=${encodeBase64(proof)}`;
  }

  /** Checks the server-final message (`v=…`); throws {@link ScramError} on a mismatch. */
  verifyServerFinal(serverFinal: string): void {
    const given = parseAttributes(serverFinal).get("v");
    const expected = this.#serverSignature ? encodeBase64(this.#serverSignature) : undefined;
    if (given === undefined || given !== expected) {
      throw new ScramError("the server's signature is wrong: it does not know the password");
    }
  }
}

function parseAttributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0) out.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return out;
}

async function hmac(key: Uint8Array<ArrayBuffer>, text: string): Promise<Uint8Array<ArrayBuffer>> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, new TextEncoder().encode(text)));
}
