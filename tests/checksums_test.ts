/** `SHA256SUMS`, shared by `deno task compile` and `deno task bundle` (scripts/checksums.ts). */
import assert from "node:assert/strict";
import { parseSha256Sums, recordSha256Sums, sha256File } from "../scripts/checksums.ts";

Deno.test("checksums: each build keeps the other's lines, drops lines of files gone", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/rethinkdb-backup.js`, "bundle");
    await Deno.writeTextFile(`${dir}/rethinkdb-backup-x86_64-unknown-linux-gnu`, "executable");
    const bundleSum = (await recordSha256Sums(dir, ["rethinkdb-backup.js"]))
      .get("rethinkdb-backup.js");
    assert.equal(bundleSum, await sha256File(`${dir}/rethinkdb-backup.js`));
    await recordSha256Sums(dir, ["rethinkdb-backup-x86_64-unknown-linux-gnu"]);
    const both = parseSha256Sums(await Deno.readTextFile(`${dir}/SHA256SUMS`));
    assert.deepEqual([...both.keys()], [
      "rethinkdb-backup-x86_64-unknown-linux-gnu",
      "rethinkdb-backup.js",
    ]);
    assert.equal(both.get("rethinkdb-backup.js"), bundleSum);

    // Rebuilt with other contents: its line changes, the other stays.
    await Deno.writeTextFile(`${dir}/rethinkdb-backup.js`, "bundle 2");
    await recordSha256Sums(dir, ["rethinkdb-backup.js"]);
    const rebuilt = parseSha256Sums(await Deno.readTextFile(`${dir}/SHA256SUMS`));
    assert.notEqual(rebuilt.get("rethinkdb-backup.js"), bundleSum);
    assert.equal(
      rebuilt.get("rethinkdb-backup-x86_64-unknown-linux-gnu"),
      both.get("rethinkdb-backup-x86_64-unknown-linux-gnu"),
    );

    await Deno.remove(`${dir}/rethinkdb-backup-x86_64-unknown-linux-gnu`);
    await recordSha256Sums(dir, ["rethinkdb-backup.js"]);
    assert.deepEqual(
      [...parseSha256Sums(await Deno.readTextFile(`${dir}/SHA256SUMS`)).keys()],
      ["rethinkdb-backup.js"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checksums: the digest is SHA-256 as sha256sum prints it; its binary-mode lines read", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/abc`, "abc");
    assert.equal(
      await sha256File(`${dir}/abc`),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    const sum = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    assert.deepEqual(
      parseSha256Sums(`${sum} *abc\r\nnot a line\n${sum}  file with spaces\n`),
      new Map([["abc", sum], ["file with spaces", sum]]),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
