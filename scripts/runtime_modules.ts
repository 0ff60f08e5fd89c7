/**
 * The modules `src/` loads by URL at run time, outside its module graph (see `src/build.ts`).
 * `deno compile` embeds them only when told (`--include`, in `scripts/compile.ts`), and the
 * single-file bundle carries each one bundled (`scripts/bundle.ts`), under its
 * {@link import("../src/build.ts").BundledCode} name. tests/compile_args_test.ts finds every
 * such load in `src/` and checks it against this list.
 *
 * @module
 */

import type { BundledCode } from "../src/build.ts";

/**
 * Each module, by its name in `BundledCode`, as a path from the checkout's root.
 *
 * @example
 * ```ts
 * import { RUNTIME_MODULES } from "./runtime_modules.ts";
 *
 * Object.values(RUNTIME_MODULES).flatMap((path) => ["--include", path]);
 * ```
 */
export const RUNTIME_MODULES: { readonly [name in keyof BundledCode]: string } = {
  deflateWorker: "src/archive/deflate_worker.ts",
};
