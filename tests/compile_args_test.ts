/**
 * `deno compile` embeds the module graph: static imports and `import("…")` of a literal.
 * Whatever else `src/` loads at run time (a worker's module, a file beside a module) is in an
 * executable only when `compileArgs` names it with `--include`, and in the single file only
 * when the bundle carries it. These tests find such loads in the source, so that a new one
 * cannot be forgotten by either build; no denort needed.
 */
import assert from "node:assert/strict";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { PERMISSION_FLAGS } from "../src/cli/permissions.ts";
import { compileArgs, outputName } from "../scripts/compile.ts";
import { RUNTIME_MODULES } from "../scripts/runtime_modules.ts";

const root = new URL("../", import.meta.url);

interface Source {
  /** Path from the checkout's root, with `/`. */
  path: string;
  /** The code without its comments (JSDoc examples start workers too). */
  code: string;
}

/** Block comments and whole-line `//` comments out; `//` inside code (URLs) stays. */
function withoutComments(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

async function sources(dir = new URL("src/", root)): Promise<Source[]> {
  const found: Source[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) found.push(...await sources(url));
    else if (/\.[cm]?[jt]s$/.test(entry.name)) {
      found.push({
        path: relative(fileURLToPath(root), fileURLToPath(url)).replaceAll("\\", "/"),
        code: withoutComments(await Deno.readTextFile(url)),
      });
    }
  }
  return found.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** Matches a file named relative to the module's own URL, capturing the relative name. */
const MODULE_RELATIVE =
  /new URL\(\s*["'`]([^"'`]+)["'`]\s*,\s*import\.meta\.url\s*\)|import\.meta\.resolve\(\s*["'`]([^"'`]+)["'`]\s*\)/g;

/** Every file `src/` names relative to a module's URL: path from the root → where named. */
function moduleRelativeFiles(files: Source[]): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of files) {
    for (const match of file.code.matchAll(MODULE_RELATIVE)) {
      const url = new URL(match[1] ?? match[2], new URL(file.path, root));
      found.set(relative(fileURLToPath(root), fileURLToPath(url)).replaceAll("\\", "/"), file.path);
    }
  }
  return found;
}

/** The `--include` operands of `args`. */
function includes(args: string[]): string[] {
  return args.flatMap((arg, i) => (args[i - 1] === "--include" ? [arg] : []));
}

const files = await sources();
const target = "x86_64-unknown-linux-gnu";

Deno.test("compile args: the permissions, the target, the output and mod.ts", () => {
  const args = compileArgs(target, "out");
  assert.equal(args[0], "compile");
  for (const flag of PERMISSION_FLAGS) assert.ok(args.includes(flag), flag);
  assert.equal(args[args.indexOf("--target") + 1], target);
  assert.equal(args[args.indexOf("--output") + 1], `out/${outputName(target)}`);
  assert.equal(args.at(-1), "mod.ts");
});

Deno.test("compile args: every file src/ loads by its module's URL is embedded with --include", async () => {
  const loaded = moduleRelativeFiles(files);
  // Not vacuous: the compression worker is one.
  assert.ok(loaded.has("src/archive/deflate_worker.ts"), [...loaded.keys()].join(", "));
  const included = includes(compileArgs(target));
  for (const [path, where] of loaded) {
    assert.ok((await Deno.stat(new URL(path, root))).isFile, `${path} (named in ${where})`);
    assert.ok(
      included.some((include) => path === include || path.startsWith(`${include}/`)),
      `${path} is loaded at run time (${where}) but compileArgs has no --include for it`,
    );
  }
});

Deno.test("compile args: the single-file bundle carries the same run-time modules", () => {
  assert.deepEqual(
    [...moduleRelativeFiles(files).keys()].sort(),
    Object.values(RUNTIME_MODULES).sort(),
  );
});

Deno.test("compile args: every import() in src/ names a literal module, so it is embedded", () => {
  for (const file of files) {
    for (const match of file.code.matchAll(/\bimport\(\s*([^)]*)\)/g)) {
      assert.match(match[1], /^(["'])[^"'`$]+\1\s*$/, `${file.path}: import(${match[1]})`);
    }
    assert.doesNotMatch(file.code, /import\.meta\.(dirname|filename)/, file.path);
  }
});

Deno.test("compile args: every worker src/ starts takes its module from a URL checked above", () => {
  // A function that returns a module-relative URL (src/build.ts's deflateWorkerUrl) counts.
  const urlFunctions = new Set<string>();
  for (const file of files) {
    for (
      const match of file.code.matchAll(/export function (\w+)\([^)]*\)[^{]*\{([\s\S]*?)\n\}/g)
    ) {
      if (new RegExp(MODULE_RELATIVE.source).test(match[2])) urlFunctions.add(match[1]);
    }
  }
  let workers = 0;
  for (const file of files) {
    for (const match of file.code.matchAll(/new Worker\(\s*([\w.]+\([^)]*\)(?:\.href)?)/g)) {
      workers++;
      const call = match[1];
      const named = /^(\w+)\(\)$/.exec(call);
      assert.ok(
        call.startsWith("new URL(") || (named !== null && urlFunctions.has(named[1])),
        `${file.path}: new Worker(${call}) loads a module this test cannot follow`,
      );
    }
  }
  assert.equal(
    workers,
    files.reduce((n, file) => n + file.code.split("new Worker(").length - 1, 0),
    "every new Worker( in src/ was looked at",
  );
  assert.ok(workers > 0);
});
