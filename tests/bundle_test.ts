/**
 * `deno task bundle`: the single JavaScript file is built from this checkout into a temporary
 * directory, then used as an operator would: copied alone into an empty directory, and served
 * by a web server, each time through a dump, `verify`, `list` and a restore that must give the
 * tables back as they were.
 */
import assert from "node:assert/strict";
import { inflateRawSync } from "node:zlib";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { PERMISSION_FLAGS } from "../src/cli/permissions.ts";
import { BUNDLE_NAME, bundleModule, locationFree, runtimeImports } from "../scripts/bundle.ts";
import { RUNTIME_MODULES } from "../scripts/runtime_modules.ts";
import { parseSha256Sums, sha256File } from "../scripts/checksums.ts";
import { commandRunner, roundTrip } from "./support/round_trip.ts";
import { testTarget } from "./support/target.ts";

const root = new URL("../", import.meta.url);
const decoder = new TextDecoder();

async function hasCommand(name: string): Promise<boolean> {
  try {
    return (await new Deno.Command(name, { args: ["--version"], stdout: "null", stderr: "null" })
      .output()).success;
  } catch {
    return false;
  }
}

/**
 * Serves `body` as a web server would, labelled by its URL: `/<type>/rethinkdb-backup.js`
 * with that content type (URL-encoded), `/untyped/rethinkdb-backup.js` with none.
 */
function serveFile(body: Uint8Array<ArrayBuffer>) {
  const requested: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    requested.push(path);
    const match = /^\/([^/]+)\/([^/]+)$/.exec(path);
    if (!match || match[2] !== BUNDLE_NAME) return new Response("not found", { status: 404 });
    const headers: Record<string, string> = match[1] === "untyped"
      ? {}
      : { "content-type": decodeURIComponent(match[1]) };
    return new Response(body, { headers });
  });
  const host = `127.0.0.1:${server.addr.port}`;
  return {
    host,
    url: (type?: string) =>
      `http://${host}/${type === undefined ? "untyped" : encodeURIComponent(type)}/${BUNDLE_NAME}`,
    requested,
    close: () => server.shutdown(),
  };
}

Deno.test("bundle: one .js file that dumps, verifies, lists and restores from a path and a URL", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "bundle-test-" });
  const outDir = `${dir}/dist`;
  const bundle = `${outDir}/${BUNDLE_NAME}`;
  try {
    await t.step("deno task bundle writes the file and its SHA-256", async () => {
      const built = await new Deno.Command(Deno.execPath(), {
        args: ["task", "--quiet", "bundle", "--out-dir", outDir],
        cwd: fileURLToPath(root),
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      assert.equal(built.code, 0, decoder.decode(built.stderr));
      const sums = parseSha256Sums(await Deno.readTextFile(`${outDir}/SHA256SUMS`));
      assert.equal(sums.get(BUNDLE_NAME), await sha256File(bundle));
      if (await hasCommand("sha256sum")) {
        const check = await new Deno.Command("sha256sum", {
          args: ["-c", "SHA256SUMS"],
          cwd: outDir,
          stdout: "piped",
        }).output();
        assert.equal(decoder.decode(check.stdout), `${BUNDLE_NAME}: OK\n`);
      }
    });

    await t.step(
      "the file imports only node: modules and names no path of this machine",
      async () => {
        const code = await Deno.readTextFile(bundle);
        assert.deepEqual(
          runtimeImports(code).filter((specifier) => !specifier.startsWith("node:")),
          [],
        );
        // The modules loaded at run time and the WebAssembly scanner travel inside it.
        for (const name of Object.keys(RUNTIME_MODULES)) {
          assert.match(code, new RegExp(`useBundledCode\\(\\{[^]*?"?${name}"?:`));
        }
        assert.match(code, /deflateRawSync/);
        assert.match(code, /new WebAssembly\.Module\(decodeBase64\(DOCUMENT_SCAN_WASM\)\)/);
        // Built elsewhere, the same code gives the same file: no path of this machine in it.
        const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] })
          .output();
        const { denoDir } = JSON.parse(decoder.decode(info.stdout));
        for (const local of [fileURLToPath(root), dir, denoDir]) {
          assert.ok(!code.includes(local), `the bundle names ${local}`);
        }
        // Nor a module named by a path out of the checkout (in a comment, or as a key).
        assert.doesNotMatch(code, /^\/\/ \.\.\/|"\.\.\/[^"]*\.[jt]s"/m);
      },
    );

    await t.step("copied alone into an empty directory: --version and a round trip", async () => {
      const alone = `${dir}/alone`;
      await Deno.mkdir(alone);
      await Deno.copyFile(bundle, `${alone}/${BUNDLE_NAME}`);
      const run = commandRunner(Deno.execPath(), ["run", ...PERMISSION_FLAGS, BUNDLE_NAME]);
      const version = await run(["--version"], alone);
      assert.equal(version.code, 0, version.stderr);
      assert.match(version.stdout, /^rethinkdb-backup \d+\.\d+\.\d+\nbuild single JavaScript file/);
      const target = await testTarget();
      try {
        const report = await roundTrip(run, target, alone);
        assert.equal(report.tables, 6);
      } finally {
        await target.cleanup();
      }
      assert.deepEqual(
        [...Deno.readDirSync(alone)].map((entry) => entry.name).filter((name) =>
          name !== "password"
        ).sort(),
        [BUNDLE_NAME, "round-trip.tar.gz"],
        "nothing else was written beside it",
      );
    });

    await t.step(
      "from a URL served as application/javascript: one download, a round trip",
      async () => {
        const http = serveFile(await Deno.readFile(bundle));
        const work = `${dir}/url`;
        await Deno.mkdir(work);
        try {
          const url = http.url("application/javascript");
          // A cache of its own: nothing is found in the machine's, so every module it needs
          // would be downloaded (and is only this one).
          const run = commandRunner(
            Deno.execPath(),
            ["run", `--allow-import=${http.host}`, ...PERMISSION_FLAGS, url],
            { DENO_DIR: `${dir}/deno-dir` },
          );
          const target = await testTarget();
          try {
            await roundTrip(run, target, work);
          } finally {
            await target.cleanup();
          }
          assert.deepEqual([...new Set(http.requested)], [new URL(url).pathname]);
        } finally {
          await http.close();
        }
      },
    );

    await t.step(
      "from a URL labelled text/plain, octet-stream, text/javascript or not at all; not as JSON",
      async () => {
        const http = serveFile(await Deno.readFile(bundle));
        try {
          const env = { DENO_DIR: `${dir}/deno-dir` };
          for (
            const type of ["text/plain", "application/octet-stream", "text/javascript", undefined]
          ) {
            const run = commandRunner(
              Deno.execPath(),
              ["run", `--allow-import=${http.host}`, ...PERMISSION_FLAGS, http.url(type)],
              env,
            );
            const version = await run(["--version"], dir);
            assert.equal(version.code, 0, `${type ?? "no type"}: ${version.stderr}`);
            assert.match(version.stdout, /^rethinkdb-backup /);
          }
          // Deno takes a type naming another kind of module at its word (README, Install).
          const json = await commandRunner(
            Deno.execPath(),
            [
              "run",
              `--allow-import=${http.host}`,
              ...PERMISSION_FLAGS,
              http.url("application/json"),
            ],
            env,
          )(["--version"], dir);
          assert.notEqual(json.code, 0);
          assert.match(json.stderr, /JSON module/);
        } finally {
          await http.close();
        }
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Nice values of a process's threads, by thread id (Linux). */
function threadNices(pid: number): Map<string, number> {
  const nices = new Map<string, number>();
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    const stat = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/stat`);
    // Field 19; the command name (field 2) is in parentheses and may hold spaces.
    nices.set(task.name, Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]));
  }
  return nices;
}

Deno.test({
  name: "bundle: the embedded compression worker inherits the permissions and runs at nice 19",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "bundle-worker-test-" });
    try {
      await Deno.writeTextFile(
        `${dir}/worker.js`,
        await bundleModule(RUNTIME_MODULES.deflateWorker),
      );
      // Started the way the bundle starts it, with the tool's permissions only, and asked for
      // nice 19 as a dump asks; it says when its worker has answered, and waits for stdin to
      // close while its threads are looked at.
      await Deno.writeTextFile(
        `${dir}/probe.ts`,
        `import { useBundledCode } from ${JSON.stringify(new URL("src/build.ts", root).href)};
import { DeflatePool } from ${JSON.stringify(new URL("src/archive/deflate_pool.ts", root).href)};

useBundledCode({ deflateWorker: Deno.readTextFileSync("worker.js") });
const pool = new DeflatePool({ level: 6, workers: 1, nice: 19 });
const piece = await pool.deflatePiece(new TextEncoder().encode("probe"), true);
console.log(JSON.stringify([...piece.deflated]));
for await (const _ of Deno.stdin.readable) { /* until the test closes it */ }
pool.close();
`,
      );
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", ...PERMISSION_FLAGS, "probe.ts"],
        cwd: dir,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).spawn();
      const stderr = new Response(child.stderr).text();
      const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let line = "";
      while (!line.includes("\n")) {
        const { value, done } = await stdout.read();
        if (done) break;
        line += value;
      }
      const nices = line.includes("\n") ? threadNices(child.pid) : new Map<string, number>();
      await child.stdin.close();
      while (!(await stdout.read()).done) { /* to the end */ }
      assert.equal((await child.status).code, 0, await stderr);
      const deflated = new Uint8Array(JSON.parse(line));
      assert.equal(decoder.decode(inflateRawSync(deflated)), "probe");
      const main = nices.get(String(child.pid));
      // Under a process already at nice 19 every thread is, and nothing can be told apart.
      if (main !== 19) {
        assert.equal([...nices.values()].filter((n) => n === 19).length, 1, `nices: ${[...nices]}`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("bundle: module names of the npm cache and the generated entry lose the machine's paths", () => {
  // The bundler names the generated entry by its path relative to the checkout, wherever that is.
  const temp = "/tmp/rethinkdb-backup-bundle-x";
  const entry = relative(fileURLToPath(root), temp).replaceAll("\\", "/");
  const code = [
    "// ../../root/.cache/deno/npm/registry.npmjs.org/modern-tar/0.8.6/dist/web/index.js",
    '  "../../../home/u/Library/Caches/deno/npm/registry.npmjs.org/@scope/pkg/1.2.3-rc.1/a.js"() {',
    `// ${entry}/bundle_entry.ts`,
    "// src/build.ts",
    'const url = "https://registry.npmjs.org/x/1.0.0/"; // not a module name: untouched',
  ].join("\n");
  assert.equal(
    locationFree(code, temp),
    [
      "// npm:modern-tar@0.8.6/dist/web/index.js",
      '  "npm:@scope/pkg@1.2.3-rc.1/a.js"() {',
      "// bundle_entry.ts",
      "// src/build.ts",
      'const url = "https://registry.npmjs.org/x/1.0.0/"; // not a module name: untouched',
    ].join("\n"),
  );
  assert.deepEqual(
    runtimeImports(
      'import { a } from "node:zlib";\nexport { b } from "./b.js";\nawait import("x");',
    ),
    ["node:zlib", "./b.js", "x"],
  );
});
