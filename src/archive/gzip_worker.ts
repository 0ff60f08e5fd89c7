/**
 * The worker side of {@link import("./gzip_stream.ts").gzipStream}: one gzip stream at the given
 * level, fed the tar bytes the main thread transfers, answering with compressed chunks
 * (transferred back) and an acknowledgement of each input chunk consumed.
 *
 * Messages in: `{ level }` once, then `{ chunk }` any number of times, then `{ end: true }`.
 * Messages out: `{ out }`, `{ consumed }`, then `{ done: true }`, or `{ error }`.
 *
 * @module
 */

import { createGzip } from "node:zlib";

let gzip: ReturnType<typeof createGzip> | undefined;

function post(message: unknown, transfer: Transferable[] = []): void {
  (globalThis as unknown as Worker).postMessage(message, transfer);
}

globalThis.addEventListener("message", (event: Event) => {
  const message = (event as MessageEvent).data as {
    level?: number;
    chunk?: Uint8Array;
    end?: boolean;
  };
  if (message.level !== undefined) {
    gzip = createGzip({ level: message.level });
    gzip.on("data", (data: Uint8Array) => {
      // A fresh copy we own, so it can be transferred (zlib may reuse its buffers).
      const out = new Uint8Array(data);
      post({ out }, [out.buffer]);
    });
    gzip.on("end", () => post({ done: true }));
    gzip.on("error", (error: Error) => post({ error: error.message }));
  } else if (message.chunk) {
    const size = message.chunk.byteLength;
    gzip!.write(message.chunk, () => post({ consumed: size }));
  } else if (message.end) {
    gzip!.end();
  }
});
