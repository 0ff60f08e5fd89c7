/** `--max-rate`, `--backoff` and `--no-backoff` on the command line of `dump` and `restore`. */
import assert from "node:assert/strict";
import { parseDumpArgs } from "../src/cli/dump_command.ts";
import { main } from "../src/cli/main.ts";
import { parseRestoreArgs } from "../src/cli/restore_command.ts";
import type { CommandContext } from "../src/cli/context.ts";
import { UsageError } from "../src/errors.ts";

/** Both commands' parsers, `restore` with its ARCHIVE. */
const parsers: [string, (args: string[]) => Promise<unknown>][] = [
  ["dump", (args) => parseDumpArgs(args)],
  ["restore", (args) => parseRestoreArgs(["b.tar.gz", ...args])],
];

async function pacing(parse: (args: string[]) => Promise<unknown>, args: string[]) {
  const options = await parse(args) as { maxRate?: unknown; backoff?: unknown };
  return { maxRate: options.maxRate, backoff: options.backoff };
}

Deno.test("--max-rate and --backoff parse on dump and restore; absent, the defaults apply", async () => {
  for (const [command, parse] of parsers) {
    assert.deepEqual(await pacing(parse, []), { maxRate: undefined, backoff: undefined }, command);
    assert.deepEqual(await pacing(parse, ["--max-rate", "5000/s"]), {
      maxRate: { perSecond: 5000, unit: "documents", text: "5000/s" },
      backoff: undefined,
    });
    assert.deepEqual(await pacing(parse, ["--max-rate=20MB/s", "--backoff"]), {
      maxRate: { perSecond: 20_000_000, unit: "bytes", text: "20MB/s" },
      backoff: true,
    });
    assert.deepEqual(await pacing(parse, ["--max-rate", "512KiB/s", "--no-backoff"]), {
      maxRate: { perSecond: 512 * 1024, unit: "bytes", text: "512KiB/s" },
      backoff: false,
    });
    // Both given: the last one wins (an alias may carry one, the command line the other).
    assert.equal((await pacing(parse, ["--backoff", "--no-backoff"])).backoff, false);
    assert.equal((await pacing(parse, ["--no-backoff", "--backoff"])).backoff, true);
  }
});

Deno.test("a bad --max-rate is a one-line usage error", async () => {
  for (const [command, parse] of parsers) {
    for (const bad of ["5000", "fast", "0/s", "20MB", "-1/s", "1TB/s"]) {
      await assert.rejects(
        () => parse([`--max-rate=${bad}`]),
        (e) =>
          e instanceof UsageError && /^--max-rate must be /.test(e.message) &&
          e.message.includes(`\`${bad}\``) && !e.message.includes("\n"),
        `${command} --max-rate ${bad}`,
      );
    }
    await assert.rejects(() => parse(["--max-rate"]), /option --max-rate needs a value/);
    await assert.rejects(() => parse(["--backoff=yes"]), UsageError);
  }
});

Deno.test("cli: a bad --max-rate exits 2 with one line; --help lists the options", async () => {
  const out: string[] = [];
  const err: string[] = [];
  const context: CommandContext = {
    print: (text) => (out.push(text), 0),
    printError: (text) => void err.push(text),
    printVersion: () => 0,
    signal: new AbortController().signal,
  };
  assert.equal(await main(["dump", "--max-rate", "lots"], { context, programName: "x" }), 2);
  assert.deepEqual(err, [
    "rethinkdb-backup: error: --max-rate must be documents or bytes per second, such as 5000/s, 20MB/s or 512KiB/s, got `lots`",
  ]);
  assert.equal(await main(["restore", "b.tar.gz", "--max-rate", "0/s"], { context }), 2);
  assert.match(err.at(-1)!, /--max-rate must be more than 0, got `0\/s`$/);
  for (const command of ["dump", "restore"]) {
    assert.equal(await main([command, "--help"], { context, programName: "x" }), 0);
    const help = out.pop()!;
    assert.match(help, /--max-rate RATE +at most RATE for the whole run/);
    assert.match(help, /--backoff, --no-backoff\n +slow down while the server answers/);
    assert.match(help, /MB is 10\^6 bytes, MiB 2\^20/);
  }
});
