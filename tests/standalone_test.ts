/**
 * mod.ts and src/ must run without deno.json: from a bare copy (`--no-config`) and from a URL
 * (remote modules never read a deno.json).
 */
import assert from "node:assert/strict";
import { PERMISSION_FLAGS } from "../src/cli/permissions.ts";
import { seedOfficialData } from "./support/seed.ts";
import { testTarget } from "./support/target.ts";

const root = new URL("../", import.meta.url);

async function run(args: string[], cwd?: string) {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

async function copyTree(from: URL, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    const source = new URL(entry.name + (entry.isDirectory ? "/" : ""), from);
    if (entry.isDirectory) await copyTree(source, `${to}/${entry.name}`);
    else await Deno.copyFile(source, `${to}/${entry.name}`);
  }
}

Deno.test("a copy of mod.ts + src/ alone runs with --no-config", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(new URL("mod.ts", root), `${dir}/mod.ts`);
    await copyTree(new URL("src/", root), `${dir}/src`);
    const help = await run([
      "run",
      "--no-config",
      "--no-lock",
      ...PERMISSION_FLAGS,
      "mod.ts",
      "--help",
    ], dir);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: rethinkdb-backup <command>/);
    const dumpHelp = await run(
      ["run", "--no-config", "--no-lock", ...PERMISSION_FLAGS, "mod.ts", "dump", "--help"],
      dir,
    );
    assert.equal(dumpHelp.code, 0, dumpHelp.stderr);
    assert.match(dumpHelp.stdout, /--export DB\[\.TABLE\]/);
    const version = await run(
      ["run", "--no-config", "--no-lock", ...PERMISSION_FLAGS, "mod.ts", "--version"],
      dir,
    );
    assert.equal(version.code, 0, version.stderr);
    assert.match(
      version.stdout,
      /^rethinkdb-backup \d+\.\d+\.\d+\nbuild source \(mod\.ts\)\ndeno \d+\.\d+\.\d+.*\ndriver built-in \(wire protocol V1_0\)\n$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Serves the repository's files over HTTP on 127.0.0.1, as a web server would. */
export function serveRepository(): { url: string; close: () => Promise<void> } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = decodeURIComponent(new URL(request.url).pathname);
    if (path.includes("..")) return new Response("bad path", { status: 400 });
    try {
      const body = await Deno.readFile(new URL(`.${path}`, root));
      return new Response(body, { headers: { "content-type": "application/typescript" } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown(),
  };
}

Deno.test("runs from a URL: deno run http://…/mod.ts", async () => {
  const http = serveRepository();
  try {
    const host = new URL(http.url).host;
    const result = await run([
      "run",
      "--no-lock",
      `--allow-import=${host}`,
      ...PERMISSION_FLAGS,
      `${http.url}/mod.ts`,
      "--version",
    ], await Deno.makeTempDir());
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^rethinkdb-backup \d+\.\d+\.\d+\n/);

    // A real dump, run from the URL, against the test server.
    const target = await testTarget();
    const dir = await Deno.makeTempDir();
    try {
      const { dbs } = await seedOfficialData(target, {
        only: ["other.weird-name_1"],
        dbPrefix: `${target.uniqueDb("url")}_`,
      });
      if (target.password) await Deno.writeTextFile(`${dir}/pw`, target.password);
      const dump = await run([
        "run",
        "--no-lock",
        `--allow-import=${host}`,
        ...PERMISSION_FLAGS,
        `${http.url}/mod.ts`,
        "dump",
        "-c",
        `${target.host}:${target.port}`,
        ...(target.password ? ["--password-file", `${dir}/pw`] : []),
        "-e",
        dbs[0],
        "-f",
        `${dir}/url.tar.gz`,
      ], dir);
      assert.equal(dump.code, 0, dump.stderr);
      assert.match(dump.stderr, /Dumped 4 documents from 1 table/);
    } finally {
      await target.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  } finally {
    await http.close();
  }
});
