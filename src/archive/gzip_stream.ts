/**
 * Gzip compression in a worker, so that reading tables (main thread) and compressing them
 * (another core) overlap. The output is ONE gzip member, as the official restore requires (it
 * reads archives with Python's `tarfile` in stream mode, which stops at the end of a first
 * member).
 *
 * @module
 */

/** Default gzip level: the official tool's (Python's `tarfile` `w:gz` uses 9; 6 is zlib's). */
export const DEFAULT_COMPRESSION_LEVEL = 6;

/** Uncompressed bytes handed to the worker and not yet consumed, at most (backpressure). */
const MAX_IN_FLIGHT = 8 * 1024 * 1024;

/**
 * A `TransformStream` that gzips at `level` (1–9) in a worker. Memory stays bounded: a write
 * waits while more than 8 MiB sit in the worker's queue. The worker ends with the stream (on
 * close, error or cancel).
 *
 * @example
 * ```ts
 * import { gzipStream } from "./gzip_stream.ts";
 *
 * const gz = new Blob(["hello"]).stream().pipeThrough(gzipStream(1));
 * const bytes = new Uint8Array(await new Response(gz).arrayBuffer());
 * ```
 */
export function gzipStream(
  level = DEFAULT_COMPRESSION_LEVEL,
): TransformStream<Uint8Array, Uint8Array> {
  const worker = new Worker(new URL("./gzip_worker.ts", import.meta.url).href, { type: "module" });
  let output: TransformStreamDefaultController<Uint8Array> | undefined;
  let inFlight = 0;
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  let finished: { resolve: () => void; reject: (e: Error) => void } | undefined;
  let stopped = false;
  const stop = () => {
    if (!stopped) worker.terminate();
    stopped = true;
    wake?.();
  };
  worker.onmessage = (event: MessageEvent) => {
    const message = event.data as {
      out?: Uint8Array;
      consumed?: number;
      done?: boolean;
      error?: string;
    };
    if (message.out) output?.enqueue(message.out);
    else if (message.consumed !== undefined) {
      inFlight -= message.consumed;
      if (inFlight <= MAX_IN_FLIGHT) wake?.();
    } else if (message.done) {
      stop();
      finished?.resolve();
    } else if (message.error !== undefined) {
      failure = new Error(`gzip failed: ${message.error}`);
      stop();
      finished?.reject(failure);
    }
  };
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    failure = new Error(`gzip worker failed: ${event.message}`);
    stop();
    finished?.reject(failure);
  };
  worker.postMessage({ level });
  return new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      output = controller;
    },
    async transform(chunk) {
      if (failure) throw failure;
      if (chunk.byteLength === 0) return;
      // One copy, then transferred: the caller keeps its chunk intact.
      const own = chunk.slice();
      inFlight += own.byteLength;
      worker.postMessage({ chunk: own }, [own.buffer as ArrayBuffer]);
      while (inFlight > MAX_IN_FLIGHT && !failure && !stopped) {
        await new Promise<void>((resolve) => wake = resolve);
        wake = undefined;
      }
      if (failure) throw failure;
    },
    async flush() {
      if (failure) throw failure;
      await new Promise<void>((resolve, reject) => {
        finished = { resolve, reject };
        worker.postMessage({ end: true });
      });
    },
    cancel() {
      stop();
    },
  });
}
