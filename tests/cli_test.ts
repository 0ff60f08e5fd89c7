/**
 * The CLI as operators run it: `deno run mod.ts …` in a child process against the test server
 * (or a real one), checking exit codes, stdout streaming, SIGINT cleanup and the drop-in aliases.
 */
import assert from "node:assert/strict";
import { main } from "../src/cli/main.ts";
import { aliasScript } from "../src/cli/install_aliases.ts";
// Through the library entry, whose commands load when called.
import { installAliases } from "../mod.ts";
import { PERMISSION_FLAGS } from "../src/cli/permissions.ts";
import { faultsSkipReason, testTarget, withTarget } from "./support/target.ts";
import { seedOfficialData } from "./support/seed.ts";

const modUrl = new URL("../mod.ts", import.meta.url);
const decoder = new TextDecoder();

function cli(args: string[], options: { cwd?: string; stdin?: "null" | "piped" } = {}) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSION_FLAGS, modUrl.href, ...args],
    cwd: options.cwd,
    stdin: options.stdin ?? "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
}

async function runCli(args: string[], cwd?: string) {
  const out = await cli(args, { cwd }).output();
  return { code: out.code, stdout: out.stdout, stderr: decoder.decode(out.stderr) };
}

async function tarGzEntries(bytes: Uint8Array): Promise<string[]> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/a.tar.gz`, bytes);
    const out = await new Deno.Command("tar", { args: ["tzf", `${dir}/a.tar.gz`], stdout: "piped" })
      .output();
    assert.ok(out.success, "tar reads the archive");
    return decoder.decode(out.stdout).trim().split("\n").map((p) => p.replace(/^[^/]+\//, ""));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("cli: help, version, unknown command and bad options give the documented exit codes", async () => {
  const out: string[] = [];
  const err: string[] = [];
  const context = {
    print: (t: string) => (out.push(t), 0),
    printError: (t: string) => void err.push(t),
    printVersion: () => (out.push("version"), 0),
    signal: new AbortController().signal,
  };
  assert.equal(await main(["--help"], { context, programName: "rethinkdb-backup" }), 0);
  assert.match(out.pop()!, /^Usage: rethinkdb-backup <command>/);
  assert.equal(await main(["restore", "--help"], { context, programName: "x" }), 0);
  assert.match(out.pop()!, /^Usage: rethinkdb-backup restore ARCHIVE/);
  assert.equal(await main(["--version"], { context, programName: "x" }), 0);
  assert.equal(await main(["frobnicate"], { context, programName: "x" }), 2);
  assert.match(err.pop()!, /unknown command `frobnicate`/);
  assert.equal(await main(["dump", "--nope"], { context, programName: "x" }), 2);
  assert.equal(
    err.pop(),
    "rethinkdb-backup: error: dump: unknown option --nope; see `rethinkdb-backup dump --help`",
  );
  // Named rethinkdb-dump, the program is dump without a command word (as `rethinkdb dump` runs it).
  assert.equal(await main(["--help"], { context, programName: "rethinkdb-dump" }), 0);
  assert.match(out.pop()!, /^Usage: rethinkdb-backup dump/);
  assert.equal(await main(["--help"], { context, programName: "rethinkdb-restore.exe" }), 0);
  assert.match(out.pop()!, /^Usage: rethinkdb-backup restore/);
});

Deno.test("cli: dump to a file and to stdout; connection errors exit 1 with one line", async () => {
  const target = await testTarget();
  const dir = await Deno.makeTempDir();
  try {
    const { dbs } = await seedOfficialData(target, {
      only: ["league.users", "league.empty"],
      dbPrefix: `${target.uniqueDb("cli")}_`,
    });
    const db = dbs[0];
    const connect = ["-c", `${target.host}:${target.port}`];
    const pw = target.password ? ["--password-file", `${dir}/pw`] : [];
    if (target.password) await Deno.writeTextFile(`${dir}/pw`, target.password + "\n");
    const toFile = await runCli(
      ["dump", ...connect, ...pw, "-e", db, "-f", `${dir}/b.tar.gz`],
      dir,
    );
    assert.equal(toFile.code, 0, toFile.stderr);
    assert.match(
      toFile.stderr,
      /Dumped 1,000 documents from 2 tables, 5 secondary indexes and 1 write hook to /,
    );
    const entries = await tarGzEntries(await Deno.readFile(`${dir}/b.tar.gz`));
    assert.deepEqual(entries.sort(), [
      `${db}/empty.info`,
      `${db}/empty.json`,
      `${db}/users.info`,
      `${db}/users.json`,
    ]);

    const again = await runCli(["dump", ...connect, ...pw, "-e", db, "-f", `${dir}/b.tar.gz`], dir);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists.*--overwrite-file/);

    const stdout = await runCli(["dump", ...connect, ...pw, "-e", `${db}.users`, "-f", "-"], dir);
    assert.equal(stdout.code, 0, stdout.stderr);
    assert.equal(stdout.stderr, "", "-f - implies quiet");
    assert.deepEqual((await tarGzEntries(stdout.stdout)).sort(), [
      `${db}/users.info`,
      `${db}/users.json`,
    ]);
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
      target.password ? ["b.tar.gz", "pw"] : ["b.tar.gz"],
    );

    const refused = await runCli(["dump", "-c", "127.0.0.1:1", "-f", `${dir}/x.tar.gz`], dir);
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr.trim().split("\n").length, 1, refused.stderr);
    assert.match(
      refused.stderr,
      /^rethinkdb-backup: error: cannot connect to 127\.0\.0\.1:1: connection refused/,
    );
  } finally {
    await target.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "cli: SIGINT during a dump exits 130 and leaves no archive and no temp files",
  ignore: faultsSkipReason !== undefined || Deno.build.os === "windows",
  fn: async () => {
    await withTarget(async (target, dir) => {
      const { dbs } = await seedOfficialData(target, {
        only: ["league.events"],
        dbPrefix: `${target.uniqueDb("cli")}_`,
      });
      // Slow enough that the dump (about six round trips) is still running when interrupted:
      // after its first query reached the server, however long it took to start.
      let queried!: () => void;
      const firstQuery = new Promise<void>((resolve) => queried = resolve);
      target.server!.faults.delayResponses(800, () => (queried(), true));
      const child = cli([
        "dump",
        "-c",
        `${target.host}:${target.port}`,
        "-e",
        dbs[0],
        "-f",
        `${dir}/b.tar.gz`,
      ], { cwd: dir })
        .spawn();
      await firstQuery;
      // Past start-up: the signal handler is installed before the first query is sent.
      await new Promise((resolve) => setTimeout(resolve, 300));
      child.kill("SIGINT");
      const out = await child.output();
      assert.equal(out.code, 130, decoder.decode(out.stderr));
      assert.match(decoder.decode(out.stderr), /interrupted by SIGINT/);
      assert.deepEqual([...Deno.readDirSync(dir)], [], "no archive, no temp or spool files");
    });
  },
});

Deno.test("install-aliases: scripts under deno run act as rethinkdb-dump / rethinkdb-restore", async () => {
  if (Deno.build.os === "windows") return;
  const dir = await Deno.makeTempDir();
  const target = await testTarget();
  try {
    const created = await installAliases(dir, {
      target: { execPath: Deno.execPath(), mainModule: modUrl.href },
    });
    assert.deepEqual(created, [`${dir}/rethinkdb-dump`, `${dir}/rethinkdb-restore`]);
    await assert.rejects(() => installAliases(dir), /already exists; use --force/);
    await installAliases(dir, {
      force: true,
      target: { execPath: Deno.execPath(), mainModule: modUrl.href },
    });
    assert.match(
      aliasScript({ execPath: "/x/deno", mainModule: "file:///m.ts" }, "dump", "linux"),
      /exec '\/x\/deno' run .* 'file:\/\/\/m\.ts' dump "\$@"/,
    );
    // Run from a URL, the alias may fetch it again from that host.
    assert.match(
      aliasScript(
        { execPath: "/x/deno", mainModule: "http://10.0.0.5:8080/rethinkdb-backup.js" },
        "restore",
        "linux",
      ),
      /run --allow-import=10\.0\.0\.5:8080 --allow-net .* 'http:\/\/10\.0\.0\.5:8080\/rethinkdb-backup\.js' restore/,
    );

    // What the rethinkdb binary does for `rethinkdb dump -c …`: execvp("rethinkdb-dump", argv + 1).
    const { dbs } = await seedOfficialData(target, {
      only: ["other.hooks_only"],
      dbPrefix: `${target.uniqueDb("cli")}_`,
    });
    const pw = target.password ? ["--password-file", `${dir}/pw`] : [];
    if (target.password) await Deno.writeTextFile(`${dir}/pw`, target.password);
    const out = await new Deno.Command(`${dir}/rethinkdb-dump`, {
      args: [
        "-c",
        `${target.host}:${target.port}`,
        ...pw,
        "-e",
        dbs[0],
        "-f",
        `${dir}/a.tar.gz`,
        "-q",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, decoder.decode(out.stderr));
    assert.ok((await Deno.stat(`${dir}/a.tar.gz`)).size > 0);
    const help = await new Deno.Command(`${dir}/rethinkdb-restore`, {
      args: ["--help"],
      stdout: "piped",
    }).output();
    assert.match(decoder.decode(help.stdout), /^Usage: rethinkdb-backup restore/);
  } finally {
    await target.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});
