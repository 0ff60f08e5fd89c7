/**
 * A minimal RethinkDB wire client for tests that need to see exact bytes: the handshake messages
 * and raw response frames, with full control of tokens, CONTINUE and STOP.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import {
  ByteReader,
  encodeFrame,
  encodeNullTerminated,
  readFrame,
} from "../server/protocol/framing.ts";

/** A parsed response frame. */
export interface RawResponse {
  t: number;
  r: unknown[];
  e?: number;
  b?: unknown[];
  n?: unknown[];
  [key: string]: unknown;
}

/** The outcome of {@link RawClient.handshake}. */
export interface HandshakeResult {
  /** The server's messages, in order. */
  messages: Record<string, unknown>[];
  /** True if the server proved it knows the password (`v=` matched). */
  serverVerified: boolean;
}

function hmac(key: Uint8Array, text: string): Buffer {
  return createHmac("sha256", key).update(text).digest();
}

/** A raw connection. */
export class RawClient {
  readonly #reader: ByteReader;
  readonly #queues = new Map<number, RawResponse[]>();
  readonly #waiters = new Map<number, ((r: RawResponse | null) => void)[]>();
  #pump: Promise<void> | undefined;
  #ended = false;

  private constructor(private readonly conn: Deno.Conn) {
    this.#reader = new ByteReader(conn);
  }

  /** Opens a TCP connection (no handshake yet). */
  static async open(host: string, port: number): Promise<RawClient> {
    return new RawClient(await Deno.connect({ hostname: host, port }));
  }

  /** Sends the V1_0 magic number. */
  async sendMagic(): Promise<void> {
    await this.write(new Uint8Array([0xc3, 0xbd, 0xc2, 0x34]));
  }

  /** Sends a NUL-terminated JSON handshake message. */
  async sendMessage(message: unknown): Promise<void> {
    await this.write(encodeNullTerminated(JSON.stringify(message)));
  }

  /** Reads a NUL-terminated handshake message; null if the connection closed. */
  async readMessage(): Promise<Record<string, unknown> | null> {
    const bytes = await this.#reader.readNullTerminated(1 << 20);
    if (bytes === null) return null;
    const text = new TextDecoder().decode(bytes);
    try {
      return JSON.parse(text);
    } catch {
      return { text };
    }
  }

  /**
   * Runs the whole handshake for `user`/`password`. `clientNonce` defaults to a random one;
   * replaying a transcript passes the recorded one.
   */
  async handshake(user: string, password: string, clientNonce?: string): Promise<HandshakeResult> {
    const nonce = clientNonce ?? randomBytes(18).toString("base64");
    const messages: Record<string, unknown>[] = [];
    await this.sendMagic();
    const clientFirstBare = `n=${user},r=${nonce}`;
    await this.sendMessage({
      protocol_version: 0,
      authentication_method: "SCRAM-SHA-256",
      authentication: `n,,${clientFirstBare}`,
    });
    const version = await this.readMessage();
    if (version === null) return { messages, serverVerified: false };
    messages.push(version);
    const first = await this.readMessage();
    if (first === null) return { messages, serverVerified: false };
    messages.push(first);
    if (first.success !== true) return { messages, serverVerified: false };
    const { final, serverSignature } = scramFinal(
      clientFirstBare,
      String(first.authentication),
      password,
    );
    await this.sendMessage({ authentication: final });
    const last = await this.readMessage();
    if (last === null) return { messages, serverVerified: false };
    messages.push(last);
    return { messages, serverVerified: last.authentication === `v=${serverSignature}` };
  }

  /** Sends a query frame. */
  async send(token: number, query: unknown): Promise<void> {
    this.#startPump();
    await this.write(encodeFrame(BigInt(token), JSON.stringify(query)));
  }

  /** The next response for `token`; null if the connection closed first. */
  next(token: number): Promise<RawResponse | null> {
    this.#startPump();
    const queue = this.#queues.get(token);
    if (queue !== undefined && queue.length > 0) return Promise.resolve(queue.shift()!);
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve) => {
      const waiters = this.#waiters.get(token) ?? [];
      waiters.push(resolve);
      this.#waiters.set(token, waiters);
    });
  }

  /** Sends a query and returns its first response. */
  async query(token: number, query: unknown): Promise<RawResponse | null> {
    await this.send(token, query);
    return await this.next(token);
  }

  /** Writes raw bytes. */
  async write(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) at += await this.conn.write(bytes.subarray(at));
  }

  /** Closes the connection. */
  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }

  /** Resolves once the server closed the connection. */
  async closedByServer(): Promise<void> {
    this.#startPump();
    await this.#pump;
  }

  #startPump(): void {
    this.#pump ??= (async () => {
      try {
        for (;;) {
          const frame = await readFrame(this.#reader);
          if (frame === null) break;
          const token = Number(frame.token);
          const response = JSON.parse(frame.json) as RawResponse;
          const waiter = this.#waiters.get(token)?.shift();
          if (waiter !== undefined) waiter(response);
          else {
            const queue = this.#queues.get(token) ?? [];
            queue.push(response);
            this.#queues.set(token, queue);
          }
        }
      } catch {
        // connection reset
      } finally {
        this.#ended = true;
        for (const waiters of this.#waiters.values()) for (const w of waiters) w(null);
        this.#waiters.clear();
      }
    })();
  }
}

/** Computes the client-final message and the expected server signature. */
export function scramFinal(
  clientFirstBare: string,
  serverFirst: string,
  password: string,
): { final: string; serverSignature: string } {
  const attrs = new Map(serverFirst.split(",").map((p) => [p[0], p.slice(2)] as [string, string]));
  const salted = pbkdf2Sync(
    password,
    Buffer.from(attrs.get("s")!, "base64"),
    Number(attrs.get("i")),
    32,
    "sha256",
  );
  const withoutProof = `c=biws,r=${attrs.get("r")}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const clientKey = hmac(salted, "Client Key");
  const storedKey = createHash("sha256").update(clientKey).digest();
  const signature = hmac(storedKey, authMessage);
  const proof = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) proof[i] = clientKey[i] ^ signature[i];
  const serverSignature = hmac(hmac(salted, "Server Key"), authMessage).toString("base64");
  return { final: `${withoutProof},p=${proof.toString("base64")}`, serverSignature };
}
