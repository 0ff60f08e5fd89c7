/**
 * Which build is running, and where the code it loads at run time comes from.
 *
 * The same modules run in three builds: from source (`deno run mod.ts`, from a checkout or a
 * URL), as an executable (`deno compile`), and as the single JavaScript file of
 * `deno task bundle`. Only one module is loaded by URL at run time, the compression worker
 * (a worker needs a module of its own). From source it is the file beside the others;
 * `deno compile` embeds it because `scripts/compile.ts` names it with `--include`; a single
 * file has no file beside it, so the bundle carries the worker's bundled source and its entry
 * hands it over with {@link useBundledCode} before the CLI starts.
 *
 * @module
 */

/** How the running tool was built. */
export type BuildKind = "source" | "executable" | "bundle";

/** What the single-file bundle carries for the modules loaded at run time. */
export interface BundledCode {
  /** The compression worker (`src/archive/deflate_worker.ts`), bundled into one ES module. */
  readonly deflateWorker: string;
}

let bundled: BundledCode | undefined;
let deflateWorkerBlobUrl: string | undefined;

/**
 * Called once by the single-file bundle's entry, before the CLI runs: the worker starts from
 * `code` from then on.
 *
 * @example
 * ```ts
 * import { buildKind, useBundledCode } from "./build.ts";
 *
 * useBundledCode({ deflateWorker: "addEventListener('message', () => {});" });
 * buildKind(); // "bundle"
 * ```
 */
export function useBundledCode(code: BundledCode): void {
  bundled = code;
  deflateWorkerBlobUrl = undefined;
}

/**
 * How the running tool was built. An executable is told by `Deno.build.standalone`; the
 * bundle by its entry having called {@link useBundledCode}.
 *
 * @example
 * ```ts
 * import { buildKind } from "./build.ts";
 *
 * buildKind(); // "source" under `deno run mod.ts`
 * ```
 */
export function buildKind(): BuildKind {
  if (Deno.build.standalone) return "executable";
  return bundled === undefined ? "source" : "bundle";
}

/**
 * The URL to start a compression worker from (as a module worker).
 *
 * @example
 * ```ts
 * import { deflateWorkerUrl } from "./build.ts";
 *
 * const worker = new Worker(deflateWorkerUrl(), { type: "module" });
 * worker.terminate();
 * ```
 */
export function deflateWorkerUrl(): string {
  if (bundled === undefined) return new URL("./archive/deflate_worker.ts", import.meta.url).href;
  // A blob: URL rather than a data: URL, so that a worker's stack trace names a short URL
  // instead of the whole source. It lives as long as the process: every worker reuses it.
  deflateWorkerBlobUrl ??= URL.createObjectURL(
    new Blob([bundled.deflateWorker], { type: "text/javascript" }),
  );
  return deflateWorkerBlobUrl;
}
