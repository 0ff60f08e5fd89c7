import assert from "node:assert/strict";
import { readPassword } from "../src/connection/password.ts";
import { BackupError, UsageError } from "../src/errors.ts";

Deno.test("--password-file: the first line, without its line ending", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/pw`, "s3cret\r\nsecond line\n");
    assert.equal(await readPassword({ file: `${dir}/pw` }), "s3cret");
    await Deno.writeTextFile(`${dir}/pw2`, "only");
    assert.equal(await readPassword({ file: `${dir}/pw2` }), "only");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--password-file: a missing file is a one-line error that does not leak content", async () => {
  await assert.rejects(
    () => readPassword({ file: "/nonexistent/pw" }),
    (error: unknown) => {
      assert.ok(error instanceof BackupError);
      assert.equal(
        error.message,
        "--password-file /nonexistent/pw: no such file; give a readable file",
      );
      return true;
    },
  );
});

Deno.test("no password source means no password; both sources is a usage error", async () => {
  assert.equal(await readPassword({}), "");
  await assert.rejects(() => readPassword({ prompt: true, file: "x" }), UsageError);
});

Deno.test("-p without a terminal asks for --password-file instead of reading piped input", async () => {
  if (Deno.stdin.isTerminal()) return; // only meaningful without a TTY, as in CI
  await assert.rejects(() => readPassword({ prompt: true }), /use --password-file FILE instead/);
});
