import assert from "node:assert/strict";
import { formatBytes, formatCount, formatDuration, Progress } from "../src/progress/progress.ts";

Deno.test("progress formatting helpers", () => {
  assert.equal(formatCount(1234567), "1,234,567");
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(5 * 1024 * 1024), "5.0 MiB");
  assert.equal(formatDuration(42), "42s");
  assert.equal(formatDuration(185), "3m05s");
  assert.equal(formatDuration(3725), "1h02m");
});

Deno.test("progress line: totals, per-table share, tables done", () => {
  const progress = new Progress("dump", { write: () => {}, intervalMs: 60_000, tty: false });
  progress.startTable("league.users", 1000);
  progress.startTable("league.events", 5000);
  progress.add("league.users", 250, 1024);
  progress.finishTable("league.events");
  const line = progress.line();
  progress.stop();
  assert.match(line, /^dump: 250\/1,000 docs \| 1\.0 KiB \| /);
  assert.match(line, /tables 1\/2 \(1 in flight\)/);
  assert.match(line, /league\.users 250 \(25%\)/);
});

Deno.test("progress without a terminal prints plain lines; quiet prints nothing", async () => {
  const lines: string[] = [];
  const plain = new Progress("restore", {
    write: (t) => lines.push(t),
    intervalMs: 10,
    tty: false,
  });
  plain.startTable("a.b");
  plain.add("a.b", 5, 50);
  await new Promise((resolve) => setTimeout(resolve, 40));
  plain.warn("careful");
  plain.stop();
  assert.ok(lines.some((l) => l.startsWith("restore: 5 docs") && l.endsWith("\n")));
  assert.ok(lines.includes("warning: careful\n"));
  assert.ok(lines.every((l) => !l.includes("\r")));

  const quietLines: string[] = [];
  const quiet = new Progress("dump", {
    quiet: true,
    write: (t) => quietLines.push(t),
    intervalMs: 5,
  });
  quiet.startTable("a.b");
  quiet.add("a.b", 1, 1);
  quiet.warn("x");
  await new Promise((resolve) => setTimeout(resolve, 20));
  quiet.stop();
  assert.deepEqual(quietLines, []);
});
