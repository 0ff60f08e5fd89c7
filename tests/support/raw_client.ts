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
  /** The same, as the server wrote them. */
  texts: string[];
  /** True if the server proved it knows the password (`v=` matched). */
  serverVerified: boolean;
}

function hmac(key: Uint8Array, text: string): Buffer {
  return createHmac("sha256", key).update(text).digest();
}

/** A raw connection. */
export class RawClient {
  readonly #reader: ByteReader;
  /** Response frames as the server wrote them, per token, until asked for. */
  readonly #queues = new Map<number, string[]>();
  readonly #waiters = new Map<number, ((text: string | null) => void)[]>();
  #pump: Promise<void> | undefined;
  #ended = false;
  #writes: Promise<void> = Promise.resolve();

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
    const text = await this.#readText();
    return text === null ? null : parseMessage(text);
  }

  async #readText(): Promise<string | null> {
    const bytes = await this.#reader.readNullTerminated(1 << 20);
    return bytes === null ? null : new TextDecoder().decode(bytes);
  }

  /**
   * Runs the whole handshake for `user`/`password`. `clientNonce` defaults to a random one;
   * replaying a transcript passes the recorded one.
   */
  async handshake(user: string, password: string, clientNonce?: string): Promise<HandshakeResult> {
    const nonce = clientNonce ?? randomBytes(18).toString("base64");
    const messages: Record<string, unknown>[] = [];
    const texts: string[] = [];
    const read = async () => {
      const text = await this.#readText();
      if (text === null) return null;
      texts.push(text);
      const message = parseMessage(text);
      messages.push(message);
      return message;
    };
    await this.sendMagic();
    const clientFirstBare = `n=${user},r=${nonce}`;
    await this.sendMessage({
      protocol_version: 0,
      authentication_method: "SCRAM-SHA-256",
      authentication: `n,,${clientFirstBare}`,
    });
    const version = await read();
    if (version === null) return { messages, texts, serverVerified: false };
    const first = await read();
    if (first === null || first.success !== true) {
      return { messages, texts, serverVerified: false };
    }
    const { final, serverSignature } = scramFinal(
      clientFirstBare,
      String(first.authentication),
      password,
    );
    await this.sendMessage({ authentication: final });
    const last = await read();
    if (last === null) return { messages, texts, serverVerified: false };
    return { messages, texts, serverVerified: last.authentication === `v=${serverSignature}` };
  }

  /** Sends a query frame. */
  async send(token: number, query: unknown): Promise<void> {
    this.#startPump();
    await this.write(encodeFrame(BigInt(token), JSON.stringify(query)));
  }

  /** The next response for `token`; null if the connection closed first. */
  async next(token: number): Promise<RawResponse | null> {
    const text = await this.nextText(token);
    return text === null ? null : JSON.parse(text) as RawResponse;
  }

  /** The next response for `token` as the server wrote it; null if the connection closed first. */
  nextText(token: number): Promise<string | null> {
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

  /** Writes raw bytes, after any write still under way (frames never interleave). */
  write(bytes: Uint8Array): Promise<void> {
    const written = this.#writes.then(async () => {
      let at = 0;
      while (at < bytes.length) at += await this.conn.write(bytes.subarray(at));
    });
    this.#writes = written.catch(() => {});
    return written;
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
          const waiter = this.#waiters.get(token)?.shift();
          if (waiter !== undefined) waiter(frame.json);
          else {
            const queue = this.#queues.get(token) ?? [];
            queue.push(frame.json);
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

/** A handshake message as JSON, or `{ text }` when it is not JSON. */
function parseMessage(text: string): Record<string, unknown> {
  try {
    return JSON.parse(text);
  } catch {
    return { text };
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
