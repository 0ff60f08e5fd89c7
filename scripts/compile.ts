/**
 * `deno task compile [--current] [--target TRIPLE ...]`: builds one self-contained executable
 * per target into `dist/rethinkdb-backup-<target>[.exe]`, with only the permissions the tool
 * needs baked in, and writes `dist/SHA256SUMS`.
 *
 * `deno compile` downloads its `denort` runtime for each target. On a build host without
 * internet, set `DENORT_BIN` to a denort binary you already have: `deno compile` then uses it,
 * which only works for that binary's own target (use `--current`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { PERMISSION_FLAGS } from "../src/cli/permissions.ts";

/** Every release target. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/** The target triple of the running Deno. */
export function currentTarget(): string {
  return Deno.build.target;
}

/** The output file of a target. */
export function outputName(target: string): string {
  return `rethinkdb-backup-${target}${target.includes("windows") ? ".exe" : ""}`;
}

/** The `deno compile` arguments for one target. */
export function compileArgs(target: string, outDir = "dist"): string[] {
  return [
    "compile",
    ...PERMISSION_FLAGS,
    "--target",
    target,
    "--output",
    `${outDir}/${outputName(target)}`,
    // The compression worker is loaded by URL at run time, so it must be embedded explicitly.
    "--include",
    "src/archive/deflate_worker.ts",
    "mod.ts",
  ];
}

async function sha256(path: string): Promise<string> {
  const bytes = await Deno.readFile(path);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
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
  const sums: string[] = [];
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
    sums.push(`${await sha256(`dist/${outputName(target)}`)}  ${outputName(target)}`);
  }
  await Deno.writeTextFile("dist/SHA256SUMS", sums.join("\n") + "\n");
  console.error(`compile: wrote ${targets.length} executable(s) and dist/SHA256SUMS`);
}
