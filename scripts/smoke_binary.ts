/**
 * Smoke test of the compiled executable for this machine (`deno task compile --current` first):
 * `--version`, then a dump and a restore against the in-process test server.
 *
 * @module
 */

import { currentTarget, outputName } from "./compile.ts";
import { startTestServer } from "../tests/server/mod.ts";

const binary = `dist/${outputName(currentTarget())}`;
const decoder = new TextDecoder();

async function run(args: string[]): Promise<string> {
  const out = await new Deno.Command(binary, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${binary} ${args.join(" ")} failed: ${decoder.decode(out.stderr)}`);
  }
  return decoder.decode(out.stdout);
}

const version = await run(["--version"]);
if (!version.startsWith("rethinkdb-backup ")) throw new Error(`unexpected --version: ${version}`);
const server = await startTestServer();
const dir = await Deno.makeTempDir();
try {
  const archive = new URL(
    "../../shared/rethinkdb-2.4.4/official-dumps/full.tar.gz",
    import.meta.url,
  );
  const address = `${server.host}:${server.port}`;
  await run(["restore", archive.pathname, "-c", address, "-q"]);
  await run(["dump", "-c", address, "-f", `${dir}/smoke.tar.gz`, "-q"]);
  const size = (await Deno.stat(`${dir}/smoke.tar.gz`)).size;
  console.log(`smoke: ${binary} --version, restore and dump (${size} bytes) passed`);
} finally {
  await server.close();
  await Deno.remove(dir, { recursive: true });
}
