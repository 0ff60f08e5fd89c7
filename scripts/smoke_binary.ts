/**
 * Round trip through the compiled executable for this machine (`deno task compile --current`
 * first; CI runs it when `DENORT_BIN` is set): the executable is copied alone into an empty
 * directory, its `--version` must say it is the executable, then a dump, `verify`, `list` and
 * a restore against the test server must give every table back as it was (the same round trip
 * as the single-file bundle's test, tests/support/round_trip.ts).
 *
 * `deno run --allow-all scripts/smoke_binary.ts [EXECUTABLE]`; EXECUTABLE defaults to
 * `dist/rethinkdb-backup-<this machine's target>`.
 *
 * @module
 */

import { basename } from "node:path";
import { currentTarget, outputName } from "./compile.ts";
import { commandRunner, roundTrip } from "../tests/support/round_trip.ts";
import { testTarget } from "../tests/support/target.ts";

const binary = Deno.args[0] ?? `dist/${outputName(currentTarget())}`;

async function smoke(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "rethinkdb-backup-smoke-" });
  try {
    const copy = `${dir}/${basename(binary)}`;
    await Deno.copyFile(binary, copy);
    const run = commandRunner(copy, []);
    const version = await run(["--version"], dir);
    if (version.code !== 0 || !/^rethinkdb-backup \S+\nbuild executable\b/.test(version.stdout)) {
      const said = (version.stdout + version.stderr).trim().replaceAll("\n", " | ");
      throw new Error(`--version does not say "build executable" (exit ${version.code}): ${said}`);
    }
    const target = await testTarget();
    try {
      const { tables, documents, archiveBytes } = await roundTrip(run, target, dir);
      const size = (await Deno.stat(copy)).size;
      return `${binary} (${size} bytes, run alone from an empty directory): --version says ` +
        `"build executable"; dump, verify, list and restore of ${tables} tables and ` +
        `${documents} documents gave every table back unchanged (archive ${archiveBytes} bytes)`;
    } finally {
      await target.cleanup();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

try {
  console.log(`smoke: ${await smoke()}`);
} catch (error) {
  console.error(`smoke: ${binary} failed: ${error instanceof Error ? error.message : error}`);
  Deno.exit(1);
}
