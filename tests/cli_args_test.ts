import assert from "node:assert/strict";
import { parseDumpArgs } from "../src/cli/dump_command.ts";
import { parseRestoreArgs } from "../src/cli/restore_command.ts";
import { commandForProgram } from "../src/cli/main.ts";
import { UsageError } from "../src/errors.ts";

Deno.test("dump options: every official option parses into DumpOptions", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/pw`, "s3cret\n");
    const options = await parseDumpArgs([
      "-c",
      "[::1]:28020",
      "-u",
      "backup",
      "--password-file",
      `${dir}/pw`,
      "--tls-cert",
      "/etc/ca.pem",
      "-f",
      "out.tar.gz",
      "--overwrite-file",
      "-e",
      "league",
      "--export",
      "other.hooks_only",
      "--exclude",
      "league.tmp_*",
      "--clients",
      "5",
      "--temp-dir",
      "/var/tmp",
      "--read-outdated",
      "--no-capture",
      "--compression-level",
      "1",
      "--compression-nice",
      "0",
      "--retry-for",
      "2m",
      "-q",
    ]);
    assert.notEqual(typeof options, "string");
    if (typeof options === "string") return;
    assert.deepEqual(options, {
      connect: {
        host: "::1",
        port: 28020,
        user: "backup",
        password: "s3cret",
        tlsCaFile: "/etc/ca.pem",
      },
      file: "out.tar.gz",
      overwrite: true,
      exports: ["league", "other.hooks_only"],
      excludes: ["league.tmp_*"],
      clients: 5,
      tempDir: "/var/tmp",
      readOutdated: true,
      capture: false,
      compressionLevel: 1,
      compressionNice: 0,
      retryForMs: 120_000,
      progress: { quiet: true },
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dump options: defaults, and -f - implies quiet", async () => {
  const defaults = await parseDumpArgs([]);
  assert.ok(typeof defaults !== "string");
  if (typeof defaults === "string") return;
  assert.deepEqual(defaults.connect, {
    host: "localhost",
    port: 28015,
    user: "admin",
    password: "",
    tlsCaFile: undefined,
  });
  assert.equal(defaults.clients, 3);
  assert.equal(defaults.capture, true, "change capture is on by default");
  assert.equal(defaults.file, undefined);
  assert.deepEqual(defaults.exports, []);
  assert.equal(defaults.progress?.quiet, false);
  const stdout = await parseDumpArgs(["-f", "-"]);
  assert.ok(typeof stdout !== "string" && stdout.progress?.quiet === true);
  assert.equal(await parseDumpArgs(["--help"]), "help");
  assert.equal(await parseDumpArgs(["--version"]), "version");
});

Deno.test("restore options: every official option parses into RestoreOptions", async () => {
  const options = await parseRestoreArgs([
    "backup.tar.gz",
    "-c",
    "db1:28016",
    "-i",
    "league.users",
    "--import",
    "other",
    "--exclude",
    "other.tmp_*",
    "--rename",
    "league=league_restored",
    "--rename",
    "other.hooks_only=staging.hooks_0923",
    "--dry-run",
    "--clients",
    "4",
    "--temp-dir",
    "/var/tmp",
    "--hard-durability",
    "--force",
    "--keep-partial",
    "--no-secondary-indexes",
    "--shards",
    "2",
    "--replicas",
    "3",
    "--batch-size",
    "500",
    "--retry-for",
    "90",
    "-q",
  ]);
  assert.ok(typeof options !== "string");
  if (typeof options === "string") return;
  assert.deepEqual(options, {
    connect: { host: "db1", port: 28016, user: "admin", password: "", tlsCaFile: undefined },
    archive: "backup.tar.gz",
    imports: ["league.users", "other"],
    excludes: ["other.tmp_*"],
    renames: ["league=league_restored", "other.hooks_only=staging.hooks_0923"],
    dryRun: true,
    clients: 4,
    tempDir: "/var/tmp",
    hardDurability: true,
    force: true,
    keepPartial: true,
    noSecondaryIndexes: true,
    shards: 2,
    replicas: 3,
    batchSize: 500,
    retryForMs: 90_000,
    progress: { quiet: true },
  });
  const stdin = await parseRestoreArgs(["-"]);
  assert.ok(typeof stdin !== "string" && stdin.archive === "-" && stdin.clients === 8);
  assert.ok(typeof stdin !== "string" && stdin.dryRun === false);
  assert.deepEqual(typeof stdin !== "string" && [stdin.excludes, stdin.renames], [[], []]);
});

Deno.test("bad command lines are one-line usage errors", async () => {
  const cases: [() => Promise<unknown>, RegExp][] = [
    [
      () => parseDumpArgs(["--bogus"]),
      /^dump: unknown option --bogus; see `rethinkdb-backup dump --help`$/,
    ],
    [() => parseDumpArgs(["-f"]), /^dump: option --file needs a value; see/],
    [() => parseDumpArgs(["--clients", "0"]), /^--clients must be a positive integer, got `0`$/],
    [() => parseDumpArgs(["--clients", "x"]), /^--clients must be a positive integer, got `x`$/],
    [() => parseDumpArgs(["extra"]), /^dump: unexpected argument `extra`/],
    [() => parseRestoreArgs([]), /^restore: missing ARCHIVE/],
    [() => parseRestoreArgs(["a", "b"]), /^restore: one ARCHIVE expected, got 2/],
    [() => parseRestoreArgs(["a", "--shards", "-1"]), /needs a value|positive integer/],
    [() => parseRestoreArgs(["a", "-c", "h:99999"]), /invalid --connect value `h:99999`/],
    [
      () => parseRestoreArgs(["a", "--rename", "a"]),
      /^invalid --rename value `a`: expected FROM=TO/,
    ],
    [
      () => parseRestoreArgs(["a", "--rename", "db=db.table"]),
      /^invalid --rename value `db=db.table`: rename a DB to a DB or a DB.TABLE to a DB.TABLE$/,
    ],
    [() => parseRestoreArgs(["a", "--rename", "l*=x"]), /no wildcards/],
    [
      () => parseRestoreArgs(["a", "--rename", "league=rethinkdb"]),
      /^invalid --rename value `league=rethinkdb`: `rethinkdb` is the system database/,
    ],
    [
      () => parseRestoreArgs(["a", "--rename", "league.users=rethinkdb.users"]),
      /`rethinkdb` is the system database/,
    ],
    [() => parseRestoreArgs(["a", "--rename"]), /option --rename needs a value/],
    [() => parseRestoreArgs(["a", "-i", "a.b.c"]), /^invalid -i\/--import value `a.b.c`/],
    [() => parseRestoreArgs(["a", "--exclude", "a b"]), /^invalid --exclude value `a b`/],
    [() => parseDumpArgs(["--exclude"]), /option --exclude needs a value/],
  ];
  for (const [run, pattern] of cases) {
    await assert.rejects(run, (error: unknown) => {
      assert.ok(error instanceof UsageError, String(error));
      assert.match(error.message, pattern);
      assert.ok(!error.message.includes("\n"));
      return true;
    });
  }
});

Deno.test("the program name selects the command, as the rethinkdb binary runs them", () => {
  assert.equal(commandForProgram("rethinkdb-dump"), "dump");
  assert.equal(commandForProgram("/usr/local/bin/rethinkdb-restore"), "restore");
  assert.equal(commandForProgram("C:\\tools\\rethinkdb-dump.exe"), "dump");
  assert.equal(commandForProgram("rethinkdb-backup"), undefined);
  assert.equal(commandForProgram("deno"), undefined);
});

Deno.test("--retry-for takes a duration: ms, s (the default), m, h", async () => {
  const cases: [string, number][] = [["250ms", 250], ["90", 90_000], ["1.5m", 90_000], [
    "1h",
    3_600_000,
  ], ["0", 0]];
  for (const [text, ms] of cases) {
    const options = await parseDumpArgs(["--retry-for", text]);
    assert.ok(typeof options !== "string");
    assert.equal(options.retryForMs, ms, text);
  }
  for (const bad of ["soon", "5 m", "-1s", "1d"]) {
    await assert.rejects(() => parseRestoreArgs(["a", "--retry-for", bad]), /--retry-for/, bad);
  }
});

Deno.test("dump options: --compression-nice takes 0 to 19", async () => {
  for (const bad of ["-1", "20", "low", "1.5"]) {
    await assert.rejects(
      () => parseDumpArgs(["--compression-nice", bad]),
      /--compression-nice/,
      bad,
    );
  }
  const options = await parseDumpArgs(["--compression-nice", "19"]);
  assert.ok(typeof options !== "string" && options.compressionNice === 19);
});

Deno.test("dump options: --compression-level takes 1 to 9", async () => {
  for (const bad of ["0", "10", "fast"]) {
    await assert.rejects(
      () => parseDumpArgs(["--compression-level", bad]),
      /--compression-level must be/,
      bad,
    );
  }
});
