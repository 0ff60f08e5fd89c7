/**
 * A TCP proxy that cuts chosen connections after a number of bytes, for tests of what a client
 * does when its connection dies mid-query. It forwards plain TCP byte for byte, so it works in
 * front of the in-process test server and in front of a real RethinkDB server alike.
 *
 * A cut resets both sides (RST, as a crashed peer or a broken network path shows it): the client
 * reads `ECONNRESET`, not a clean end of stream (on Linux, a client whose write meets the reset
 * first reads an end of stream afterwards). A reset or an end of stream from one side is passed on
 * to the other.
 *
 * @module
 */

import net from "node:net";

/** Cut the `connection`-th accepted connection (1-based) once `afterBytes` bytes passed. */
export interface CutRule {
  /** Which accepted connection: 1 for the first. */
  connection: number;
  /**
   * Bytes forwarded in both directions together before the cut: exactly that many are forwarded
   * (the chunk crossing the limit is cut short), and once they are handed to the system both
   * sides are reset. 0 cuts at once, before the handshake.
   */
  afterBytes: number;
}

/** Options of {@link startCuttingProxy}. */
export interface CuttingProxyOptions {
  /** Where connections are forwarded to. */
  target: { host: string; port: number };
  /** Connections to cut; none by default. */
  cuts?: CutRule[];
}

/** A running proxy. */
export interface CuttingProxy {
  /** Host to connect to (127.0.0.1). */
  readonly host: string;
  /** The port it listens on. */
  readonly port: number;
  /** Number of connections accepted so far. */
  readonly connections: number;
  /** Numbers (1-based, in accept order) of the connections cut so far, in the order cut. */
  readonly cut: readonly number[];
  /** Stops listening and closes every connection (both sides); resolves once all are closed. */
  close(): Promise<void>;
}

/** Longest wait (ms) for the last bytes before a cut to reach the kernel. */
const FLUSH_MS = 1000;

/** One proxied connection. */
class Link {
  #passed = 0;
  #cut = false;
  readonly #closed: Promise<void>;
  /** Writes not yet handed to the kernel, per socket, and who waits for them. */
  readonly #pending = new Map<net.Socket, { count: number; flushed: (() => void)[] }>();

  constructor(
    readonly id: number,
    readonly client: net.Socket,
    readonly server: net.Socket,
    readonly limit: number,
    readonly onCut: (id: number) => void,
  ) {
    const whenClosed = (s: net.Socket) => new Promise<void>((resolve) => s.once("close", resolve));
    this.#closed = Promise.all([whenClosed(client), whenClosed(server)]).then(() => {});
    this.#forward(client, server);
    this.#forward(server, client);
    if (limit <= 0) this.#cutNow();
  }

  /** Resolves once both sockets are closed. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** Closes both sides at once (a reset). */
  destroy(): void {
    reset(this.client);
    reset(this.server);
  }

  #forward(from: net.Socket, to: net.Socket): void {
    from.on("data", (chunk: Uint8Array) => {
      if (this.#cut) return;
      const left = this.limit - this.#passed;
      if (chunk.length >= left) {
        // The chunk reaching the limit: what fits goes through, then both sides are reset.
        this.#passed += left;
        this.#cut = true;
        from.pause();
        if (left > 0) this.#write(to, chunk.subarray(0, left));
        this.#cutNow();
        return;
      }
      this.#passed += chunk.length;
      if (!this.#write(to, chunk)) {
        from.pause();
        to.once("drain", () => from.resume());
      }
    });
    from.on("end", () => {
      if (!to.destroyed) to.end();
    });
    from.on("error", () => reset(to));
    from.on("close", (hadError: boolean) => {
      if (hadError) reset(to);
    });
  }

  /** Writes to a socket, keeping count until the kernel has the bytes; false: wait for drain. */
  #write(to: net.Socket, chunk: Uint8Array): boolean {
    if (to.destroyed) return true;
    const pending = this.#pending.get(to) ?? { count: 0, flushed: [] };
    this.#pending.set(to, pending);
    pending.count++;
    return to.write(chunk, () => {
      if (--pending.count > 0) return;
      for (const resolve of pending.flushed.splice(0)) resolve();
    });
  }

  /** Resolves once every byte written to `socket` so far is in the kernel (or failed). */
  #flushed(socket: net.Socket): Promise<void> {
    const pending = this.#pending.get(socket);
    if (pending === undefined || pending.count === 0 || socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => pending.flushed.push(resolve));
  }

  /**
   * Cuts: once the bytes counted as passed are written on both sides (at most {@link FLUSH_MS}:
   * a peer that does not read cannot hold the cut back), resets both.
   */
  #cutNow(): void {
    this.#cut = true;
    this.onCut(this.id);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, FLUSH_MS)));
    Promise.race([
      Promise.all([this.#flushed(this.client), this.#flushed(this.server)]),
      late,
    ]).then(() => {
      clearTimeout(timer);
      this.destroy();
    });
  }
}

/** Resets (RST) a socket, or destroys it if it cannot be reset (not connected yet). */
function reset(socket: net.Socket): void {
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

/**
 * Starts a proxy on 127.0.0.1 (a free port) in front of `target`; resolves once it listens.
 *
 * @example
 * ```ts
 * import { startTestServer } from "../server/mod.ts";
 * import { startCuttingProxy } from "./proxy.ts";
 * const server = await startTestServer();
 * // The second connection through the proxy is reset after 2000 bytes.
 * const proxy = await startCuttingProxy({
 *   target: { host: server.host, port: server.port },
 *   cuts: [{ connection: 2, afterBytes: 2000 }],
 * });
 * // connect clients to proxy.host:proxy.port ...
 * console.log(proxy.connections, proxy.cut);
 * await proxy.close();
 * await server.close();
 * ```
 */
export async function startCuttingProxy(options: CuttingProxyOptions): Promise<CuttingProxy> {
  const limits = new Map<number, number>();
  for (const rule of options.cuts ?? []) {
    limits.set(rule.connection, Math.min(limits.get(rule.connection) ?? Infinity, rule.afterBytes));
  }
  const links = new Set<Link>();
  const cut: number[] = [];
  let accepted = 0;
  let closing = false;

  const listener = net.createServer({ allowHalfOpen: true }, (client) => {
    if (closing) {
      reset(client);
      return;
    }
    const id = ++accepted;
    const server = net.connect({
      host: options.target.host,
      port: options.target.port,
      allowHalfOpen: true,
    });
    const link = new Link(id, client, server, limits.get(id) ?? Infinity, (n) => cut.push(n));
    links.add(link);
    link.closed.then(() => links.delete(link));
  });
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(0, "127.0.0.1", () => {
      listener.off("error", reject);
      resolve();
    });
  });
  const port = (listener.address() as net.AddressInfo).port;

  return {
    host: "127.0.0.1",
    port,
    get connections() {
      return accepted;
    },
    cut,
    close: async () => {
      closing = true;
      const stopped = new Promise<void>((resolve) => listener.close(() => resolve()));
      const open = [...links];
      for (const link of open) link.destroy();
      await Promise.all([stopped, ...open.map((l) => l.closed)]);
    },
  };
}
