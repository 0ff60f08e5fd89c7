/**
 * TLS sockets through `node:tls`: unlike `Deno.connectTls`, it accepts a self-signed server
 * certificate given as its own CA (what RethinkDB's documentation has users make with
 * `openssl req -x509`), as the official Python tools do.
 *
 * @module
 */

import { connect as connectTls, type TLSSocket } from "node:tls";
import { isIP } from "node:net";
import { Buffer } from "node:buffer";

/** The byte stream the handshake and transport use; `Deno.Conn` is one. */
export interface ByteStream {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  close(): void;
}

/**
 * Opens a TLS connection verified against `ca`; SNI is sent only for host names.
 *
 * @example
 * ```ts
 * const stream = await openTls("localhost", 28015, await Deno.readTextFile("ca.pem"));
 * stream.close();
 * ```
 */
export function openTls(host: string, port: number, ca: string): Promise<ByteStream> {
  return new Promise((resolve, reject) => {
    const socket = connectTls({
      host,
      port,
      ca,
      servername: isIP(host) ? undefined : host,
    });
    const onError = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.once("error", onError);
    socket.once("secureConnect", () => {
      socket.off("error", onError);
      resolve(new TlsStream(socket));
    });
  });
}

class TlsStream implements ByteStream {
  readonly #socket: TLSSocket;
  #pending: Uint8Array[] = [];
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(socket: TLSSocket) {
    this.#socket = socket;
    socket.on("data", (data: Buffer) => {
      this.#pending.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (error: Error) => {
      this.#error = error;
      this.#notify();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#pending.length === 0) {
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    const chunk = this.#pending[0];
    const n = Math.min(chunk.length, buffer.length);
    buffer.set(chunk.subarray(0, n));
    if (n === chunk.length) this.#pending.shift();
    else this.#pending[0] = chunk.subarray(n);
    return n;
  }

  write(bytes: Uint8Array): Promise<number> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#ended) return Promise.reject(new Deno.errors.BrokenPipe("the connection is closed"));
    return new Promise((resolve, reject) => {
      this.#socket.write(bytes, (error) => error ? reject(error) : resolve(bytes.length));
    });
  }

  close(): void {
    this.#ended = true;
    this.#socket.destroy();
    this.#notify();
  }
}
