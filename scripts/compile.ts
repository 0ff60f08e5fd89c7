/**
 * `deno task compile [--current] [--target TRIPLE ...]`: builds one self-contained executable
 * per target into `dist/rethinkdb-backup-<target>[.exe]`, with only the permissions the tool
 * needs baked in, and records their SHA-256 in `dist/SHA256SUMS` (beside the lines of other
 * files there, such as `deno task bundle`'s).
 *
 * `deno compile` downloads its `denort` runtime for each target. On a build host without
 * internet, set `DENORT_BIN` to a denort binary you already have: `deno compile` then uses it,
 * which only works for that binary's own target (use `--current`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { PERMISSION_FLAGS } from "../src/cli/permissions.ts";
import { recordSha256Sums } from "./checksums.ts";
import { RUNTIME_MODULES } from "./runtime_modules.ts";

/** Every release target. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/**
 * The target triple of the running Deno.
 *
 * @example
 * ```ts
 * import { currentTarget } from "./compile.ts";
 *
 * currentTarget(); // "x86_64-unknown-linux-gnu" on 64-bit Intel Linux
 * ```
 */
export function currentTarget(): string {
  return Deno.build.target;
}

/**
 * The output file of a target.
 *
 * @example
 * ```ts
 * import { outputName } from "./compile.ts";
 *
 * outputName("x86_64-pc-windows-msvc"); // "rethinkdb-backup-x86_64-pc-windows-msvc.exe"
 * ```
 */
export function outputName(target: string): string {
  return `rethinkdb-backup-${target}${target.includes("windows") ? ".exe" : ""}`;
}

/**
 * The `deno compile` arguments for one target. `deno compile` embeds the modules imported
 * statically or by a literal `import("…")`; whatever else `src/` loads at run time is named
 * with `--include` (tests/compile_args_test.ts finds those loads and checks this).
 *
 * @example
 * ```ts
 * import { compileArgs } from "./compile.ts";
 *
 * new Deno.Command(Deno.execPath(), { args: compileArgs("x86_64-unknown-linux-gnu") });
 * ```
 */
export function compileArgs(target: string, outDir = "dist"): string[] {
  return [
    "compile",
    ...PERMISSION_FLAGS,
    "--target",
    target,
    "--output",
    `${outDir}/${outputName(target)}`,
    ...Object.values(RUNTIME_MODULES).flatMap((path) => ["--include", path]),
    "mod.ts",
  ];
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { current: { type: "boolean" }, target: { type: "string", multiple: true } },
  });
  const targets = values.current ? [currentTarget()] : values.target ?? [...TARGETS];
  if (Deno.env.get("DENORT_BIN") && targets.some((t) => t !== currentTarget())) {
    console.error(
      "compile: DENORT_BIN is set, so only the current target can be built; use --current",
    );
    Deno.exit(2);
  }
  await Deno.mkdir("dist", { recursive: true });
  for (const target of targets) {
    console.error(`compile: ${target}`);
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: compileArgs(target),
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (code !== 0) {
      console.error(`compile: deno compile failed for ${target} (exit ${code})`);
      Deno.exit(1);
    }
  }
  await recordSha256Sums("dist", targets.map(outputName));
  console.error(`compile: wrote ${targets.length} executable(s) and dist/SHA256SUMS`);
}
