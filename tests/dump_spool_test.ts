/** The spool that holds a table's JSON while it is read, and the dump's output file handling. */
import assert from "node:assert/strict";
import { Spool } from "../src/dump/spool.ts";
import { checkTarget, openFileOutput } from "../src/dump/output.ts";
import { describeFsError } from "../src/dump/fs_errors.ts";

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk.slice());
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

Deno.test("a small spool stays in memory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const spool = new Spool(`${dir}/1.json`, 1024);
    await spool.write(new TextEncoder().encode("[\n"));
    await spool.write(new TextEncoder().encode("]\n"));
    await spool.finish();
    assert.equal(spool.onDisk, false);
    assert.equal(spool.size, 4);
    assert.equal(new TextDecoder().decode(await collect(spool.chunks())), "[\n]\n");
    assert.deepEqual(await listDir(dir), []);
    await spool.remove();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a large spool moves to a file, reads back exactly, and is deleted", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const spool = new Spool(`${dir}/1.json`, 10);
    const expected: number[] = [];
    for (let i = 0; i < 3000; i++) {
      const chunk = new Uint8Array(1000 + (i % 7)).fill(i % 251);
      expected.push(...chunk);
      await spool.write(chunk);
    }
    await spool.finish();
    assert.equal(spool.onDisk, true);
    assert.equal(spool.size, expected.length);
    assert.deepEqual(await listDir(dir), ["1.json"]);
    assert.deepEqual(await collect(spool.chunks()), new Uint8Array(expected));
    await spool.remove();
    await spool.remove();
    assert.deepEqual(await listDir(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the output appears under its name only on commit", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = await checkTarget(`${dir}/out.tar.gz`, false);
    const output = await openFileOutput(path, false);
    const writer = output.sink.getWriter();
    await writer.write(new Uint8Array([1, 2, 3]));
    assert.equal((await listDir(dir)).length, 1);
    assert.notEqual((await listDir(dir))[0], "out.tar.gz");
    await writer.close();
    await output.commit();
    assert.deepEqual(await listDir(dir), ["out.tar.gz"]);
    assert.deepEqual(await Deno.readFile(path), new Uint8Array([1, 2, 3]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a discarded output leaves nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const output = await openFileOutput(`${dir}/out.tar.gz`, false);
    await output.sink.getWriter().write(new Uint8Array([1]));
    await output.discard();
    await output.discard();
    assert.deepEqual(await listDir(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkTarget refuses an existing file, a directory and a missing directory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/taken.tar.gz`, "x");
    await assert.rejects(
      checkTarget(`${dir}/taken.tar.gz`, false),
      (e: Error) =>
        e.message ===
          `output file ${dir}/taken.tar.gz already exists; add --overwrite-file to replace it or choose another -f`,
    );
    assert.equal(await checkTarget(`${dir}/taken.tar.gz`, true), `${dir}/taken.tar.gz`);
    await assert.rejects(checkTarget(dir, true), /is a directory; give a file name with -f/);
    await assert.rejects(
      checkTarget(`${dir}/nope/x.tar.gz`, false),
      /cannot write .*nope\/x.tar.gz: the directory does not exist; choose another -f/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a commit without overwrite does not replace a file created meanwhile", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const output = await openFileOutput(`${dir}/out.tar.gz`, false);
    await output.sink.getWriter().close();
    await Deno.writeTextFile(`${dir}/out.tar.gz`, "theirs");
    await assert.rejects(output.commit(), /already exists/);
    assert.deepEqual(await listDir(dir), ["out.tar.gz"]);
    assert.equal(await Deno.readTextFile(`${dir}/out.tar.gz`), "theirs");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a full disk is reported as such", () => {
  const error = Object.assign(new Error("No space left on device (os error 28)"), {
    code: "ENOSPC",
  });
  assert.equal(
    describeFsError(error, "write the spool file", "/t/1.json", "temp").message,
    "cannot write the spool file /t/1.json: the disk is full; free some space or choose another directory with --temp-dir",
  );
});
