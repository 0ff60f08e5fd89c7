/**
 * The archive is compressed in workers, at the chosen level, into ONE gzip member that gzip and
 * Python's `tarfile` in stream mode (what the official restore uses) both read to the end, also
 * when bodies were compressed ahead and joined in.
 */
import assert from "node:assert/strict";
import { ArchiveWriter } from "../src/archive/tar_writer.ts";
import { DeflatePool } from "../src/archive/deflate_pool.ts";
import { createHash } from "node:crypto";
import { crc32 as zlibCrc32, inflateRawSync } from "node:zlib";
import { Buffer } from "node:buffer";

async function archive(level: number, path: string): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const writer = ArchiveWriter.create(file.writable, {
    compressionLevel: level,
    mtime: new Date("2026-01-01T00:00:00Z"),
  });
  const doc = (i: number) => `{"id":${i},"text":"${"lorem ipsum ".repeat(8)}${i}"}`;
  const json = new TextEncoder().encode(
    `[\n${Array.from({ length: 20_000 }, (_, i) => doc(i)).join(",\n")}\n]\n`,
  );
  await writer.addEntry("rethinkdb_dump_x/db/t.info", 2, new TextEncoder().encode("{}"));
  // In several chunks, as a spool hands them over.
  const chunks = Array.from(
    { length: Math.ceil(json.length / 65536) },
    (_, i) => json.subarray(i * 65536, (i + 1) * 65536),
  );
  await writer.addEntry("rethinkdb_dump_x/db/t.json", json.length, ReadableStream.from(chunks));
  // Compressed ahead, as a dump does with a table while reading it.
  const compressed: Uint8Array[] = [];
  const stream = writer.deflate({ output: (chunk) => void compressed.push(chunk) });
  for (const chunk of chunks) await stream.write(chunk);
  await writer.addDeflated("rethinkdb_dump_x/db/u.json", {
    body: await stream.finish(),
    compressed,
  });
  await writer.finish();
}

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  return { ok: out.success, out: new TextDecoder().decode(out.stdout) };
}

const hasPython = await run("python3", ["-c", "print(1)"]).then((r) => r.ok, () => false);

Deno.test("gzip member: one member, levels differ in size, same content, pieces compressed ahead joined in", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await archive(1, `${dir}/fast.tar.gz`);
    await archive(9, `${dir}/small.tar.gz`);
    const fast = (await Deno.stat(`${dir}/fast.tar.gz`)).size;
    const small = (await Deno.stat(`${dir}/small.tar.gz`)).size;
    assert.ok(small < fast, `level 9 (${small} bytes) is smaller than level 1 (${fast})`);
    for (const name of ["fast", "small"]) {
      assert.ok((await run("gzip", ["-t", `${dir}/${name}.tar.gz`])).ok, name);
      const listed = await run("tar", ["tzf", `${dir}/${name}.tar.gz`]);
      assert.deepEqual(listed.out.trim().split("\n"), [
        "rethinkdb_dump_x/db/t.info",
        "rethinkdb_dump_x/db/t.json",
        "rethinkdb_dump_x/db/u.json",
      ]);
    }
    const a = await run("sh", ["-c", `gzip -dc ${dir}/fast.tar.gz | sha256sum`]);
    const b = await run("sh", ["-c", `gzip -dc ${dir}/small.tar.gz | sha256sum`]);
    assert.equal(a.out, b.out);
    // One member: the trailer's ISIZE counts every uncompressed byte (with several members,
    // the last one's would count only its own).
    const bytes = await Deno.readFile(`${dir}/fast.tar.gz`);
    const isize = new DataView(bytes.buffer).getUint32(bytes.length - 4, true);
    const total = await run("sh", ["-c", `gzip -dc ${dir}/fast.tar.gz | wc -c`]);
    assert.equal(isize, Number(total.out.trim()) % 2 ** 32);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "gzip member: Python tarfile in stream mode (the official restore's reader) reads it all",
  ignore: !hasPython,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      await archive(6, `${dir}/a.tar.gz`);
      const listed = await run("python3", [
        "-c",
        "import sys, tarfile\n" +
        "with tarfile.open(sys.argv[1], 'r|*') as t:\n" +
        "  for m in t:\n" +
        "    f = t.extractfile(m); print(m.name, len(f.read()))",
        `${dir}/a.tar.gz`,
      ]);
      assert.ok(listed.ok);
      const lines = listed.out.trim().split("\n");
      assert.equal(lines.length, 3);
      assert.match(lines[1], /^rethinkdb_dump_x\/db\/t\.json \d{6,}$/);
      assert.equal(lines[2].replace("u.json", "t.json"), lines[1]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("compression workers: closing the pool mid-stream fails the stream and ends the worker", async () => {
  const pool = new DeflatePool({ level: 6 });
  const stream = pool.open({ output: () => {} });
  await stream.write(new Uint8Array(1024));
  pool.close();
  await assert.rejects(stream.finish(), /compression workers were stopped/);
  // Deno's test sanitizers fail this test if the worker were still running.
});

Deno.test("compression workers: size, CRC-32 and SHA-256 of what was written", async () => {
  const pool = new DeflatePool({ level: 1, workers: 2 });
  // A worker started ahead serves the first stream.
  pool.prestart();
  try {
    const data = new TextEncoder().encode("abc".repeat(100_000));
    const parts: Uint8Array[] = [];
    const stream = pool.open({ output: (chunk) => void parts.push(chunk), sha256: true });
    await stream.write(data.subarray(0, 1000));
    await stream.write(data.subarray(1000));
    const body = await stream.finish();
    assert.equal(body.size, data.length);
    assert.equal(body.crc32, zlibCrc32(data) >>> 0);
    assert.equal(body.sha256, createHash("sha256").update(data).digest("hex"));
    // A sync-flushed raw deflate stream: it inflates back, and ends byte-aligned.
    const joined = new Uint8Array(Buffer.concat(parts));
    assert.deepEqual([...joined.subarray(-4)], [0, 0, 0xff, 0xff]);
    assert.deepEqual(new Uint8Array(inflateRawSync(joined, { finishFlush: 2 })), data);
  } finally {
    pool.close();
  }
});

Deno.test("compression workers: pieces compressed on their own join a stream, the last ends it", async () => {
  const pool = new DeflatePool({ level: 6 });
  try {
    const encoder = new TextEncoder();
    const header = encoder.encode("header ".repeat(100));
    const trailer = encoder.encode("end");
    const first = await pool.deflatePiece(header);
    const last = await pool.deflatePiece(trailer, true);
    assert.equal(first.crc32, zlibCrc32(header) >>> 0);
    assert.equal(last.crc32, zlibCrc32(trailer) >>> 0);
    // A sync flush ends the first piece byte-aligned, so the two make one deflate stream, which
    // the final block ends: it inflates without a flush mode that tolerates a missing end.
    assert.deepEqual([...first.deflated.subarray(-4)], [0, 0, 0xff, 0xff]);
    const joined = new Uint8Array(Buffer.concat([first.deflated, last.deflated]));
    assert.equal(
      new TextDecoder().decode(inflateRawSync(joined)),
      "header ".repeat(100) + "end",
    );
    // Each piece owns its bytes (none is a view of a buffer shared with others).
    assert.equal(first.deflated.byteOffset, 0);
    assert.equal(first.deflated.buffer.byteLength, first.deflated.byteLength);
  } finally {
    pool.close();
  }
  await assert.rejects(pool.deflatePiece(new Uint8Array(1)), /compression workers were stopped/);
});

Deno.test("compression workers: a failing output fails the stream with its own error", async () => {
  const pool = new DeflatePool({ level: 1 });
  try {
    const failure = new Error("No space left on device (os error 28)");
    const stream = pool.open({ output: () => Promise.reject(failure) });
    const block = new Uint8Array(1 << 20).fill(0x61);
    await assert.rejects(
      (async () => {
        for (let i = 0; i < 64; i++) await stream.write(block);
        await stream.finish();
      })(),
      (error) => error === failure,
    );
  } finally {
    pool.close();
  }
});

Deno.test("compression workers: writes wait while the output is slow (memory stays bounded)", async () => {
  const pool = new DeflatePool({ level: 1 });
  try {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let delivered = 0;
    const stream = pool.open({
      output: async (chunk) => {
        await gate;
        delivered += chunk.length;
      },
    });
    // Incompressible blocks: the output is as large as the input.
    const block = crypto.getRandomValues(new Uint8Array(1 << 16));
    let written = 0;
    const writing = (async () => {
      for (let i = 0; i < 512; i++) {
        await stream.write(block);
        written += block.length;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(written <= 12 << 20, `${written >> 20} MiB accepted while the output was stalled`);
    release();
    await writing;
    await stream.finish();
    assert.ok(delivered >= 512 * block.length);
  } finally {
    pool.close();
  }
});

Deno.test("compression workers: an output that frees each chunk once taken does not stall the stream", async () => {
  const pool = new DeflatePool({ level: 1 });
  try {
    let delivered = 0;
    const stream = pool.open({
      // As the dump's spool does once a chunk is on disk.
      output: (chunk) => {
        delivered += chunk.length;
        (chunk.buffer as ArrayBuffer).transfer(0);
      },
    });
    // Incompressible: well over the 4 MiB of output allowed to wait.
    const block = crypto.getRandomValues(new Uint8Array(1 << 16));
    const finished = (async () => {
      for (let i = 0; i < 256; i++) await stream.write(block);
      return await stream.finish();
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<never>((_, reject) => {
      // A stalled stream never finishes; a slow machine only takes longer.
      timer = setTimeout(() => reject(new Error("the stream stalled")), 60_000);
    });
    try {
      const body = await Promise.race([finished, stalled]);
      assert.equal(body.size, 256 * block.length);
      assert.ok(delivered >= body.size, `${delivered} compressed bytes delivered`);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    pool.close();
  }
});

Deno.test("compression workers: thousands of small streams reuse a few blocks instead of one each", async () => {
  const pool = new DeflatePool({ level: 1, workers: 2 });
  try {
    const doc = new TextEncoder().encode('[\n{"id":1,"name":"a small table"}\n]\n');
    // Three tables in flight at a time, as a dump's default --clients.
    for (let round = 0; round < 100; round++) {
      await Promise.all([0, 1, 2].map(async () => {
        const stream = pool.open({ output: () => {} });
        await stream.write(doc);
        await stream.finish();
      }));
    }
    assert.ok(pool.blocksMade <= 8, `${pool.blocksMade} blocks made for 300 streams`);
  } finally {
    pool.close();
  }
});

Deno.test("compression workers: small bodies share one worker; a second starts for a large one", async () => {
  const pool = new DeflatePool({ level: 1, workers: 2 });
  try {
    const doc = new TextEncoder().encode('[\n{"id":1,"name":"a small table"}\n]\n');
    const small = async () => {
      const stream = pool.open({ output: () => {} });
      await stream.write(doc);
      return await stream.finish();
    };
    // Three small tables in flight at a time, and pieces beside them.
    for (let round = 0; round < 20; round++) {
      await Promise.all([small(), small(), small(), pool.deflatePiece(doc)]);
    }
    assert.equal(pool.workers, 1);
    // Two large bodies at once: the second takes a worker of its own.
    const big = new Uint8Array(3 * 1024 * 1024).fill(0x61);
    const large = async () => {
      const stream = pool.open({ output: () => {} });
      await stream.write(big);
      return await stream.finish();
    };
    const [a, b] = await Promise.all([large(), large()]);
    assert.equal(a.size, big.length);
    assert.equal(b.size, big.length);
    assert.equal(pool.workers, 2);
  } finally {
    pool.close();
  }
});

Deno.test("compression workers: a small body beside a large one does not wait behind its blocks", async () => {
  const pool = new DeflatePool({ level: 1, workers: 2 });
  try {
    const large = pool.open({ output: () => {} });
    await large.write(new Uint8Array(2 * 1024 * 1024).fill(0x62));
    assert.equal(pool.workers, 1);
    const small = pool.open({ output: () => {} });
    await small.write(new TextEncoder().encode('[\n{"id":1}\n]\n'));
    await small.finish();
    assert.equal(pool.workers, 2, "the small body took a worker of its own");
    assert.equal((await large.finish()).size, 2 * 1024 * 1024);
  } finally {
    pool.close();
  }
});
