import assert from "node:assert/strict";
import { gunzipSync, gzipSync } from "node:zlib";
import { ArchiveWriter } from "../src/archive/tar_writer.ts";
import { type ArchiveEntry, readArchive } from "../src/archive/tar_reader.ts";
import { ArchiveError } from "../src/archive/errors.ts";
import { DocumentsEncoder } from "../src/archive/documents.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const OFFICIAL = new URL("../../shared/rethinkdb-2.4.4/official-dumps/", import.meta.url);

/** A sink that collects everything written to it. */
function memorySink(): {
  sink: WritableStream<Uint8Array>;
  bytes: () => Uint8Array;
  closed: () => boolean;
} {
  const chunks: Uint8Array[] = [];
  let closed = false;
  return {
    sink: new WritableStream({
      write(chunk) {
        chunks.push(chunk.slice());
      },
      close() {
        closed = true;
      },
    }),
    bytes: () => concat(chunks),
    closed: () => closed,
  };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

function streamOf(bytes: Uint8Array, chunkSize = 65536): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + chunkSize));
      offset += chunkSize;
    },
  });
}

function randomBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) {
    crypto.getRandomValues(out.subarray(offset, Math.min(size, offset + 65536)));
  }
  return out;
}

interface ReadEntry {
  path: string;
  type: ArchiveEntry["type"];
  size: number;
  data: Uint8Array;
}

async function readAll(bytes: Uint8Array, chunkSize?: number): Promise<ReadEntry[]> {
  const out: ReadEntry[] = [];
  for await (const entry of readArchive(streamOf(bytes, chunkSize))) {
    const data = new Uint8Array(await new Response(entry.body).arrayBuffer());
    out.push({ path: entry.path, type: entry.type, size: entry.size, data });
  }
  return out;
}

async function assertArchiveError(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ArchiveError, `not an ArchiveError: ${error}`);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes("\n"), error.message);
    return true;
  });
}

const TOP = "rethinkdb_dump_2026-11-23T20:07:40";
const LONG_DB = "d".repeat(60);
const LONG_TABLE = "t".repeat(120);
/** 100 < length <= 256, splittable into the ustar prefix and name fields. */
const PATH_USTAR_PREFIX = `${TOP}/${LONG_DB}/${"u".repeat(60)}.json`;
/** Longer than 256 bytes, with a last component over 100 bytes: needs a pax header. */
const PATH_PAX = `${TOP}/${LONG_DB}/${LONG_TABLE}/${LONG_TABLE}.info`;

async function sampleArchive(): Promise<{ archive: Uint8Array; entries: [string, Uint8Array][] }> {
  const docs = new DocumentsEncoder();
  const json = concat([docs.begin(), docs.encode([{ id: 1, s: "Å😀" }, { id: 2 }]), docs.end()]);
  const entries: [string, Uint8Array][] = [
    [`${TOP}/db/t.json`, json],
    [`${TOP}/db/t.info`, encoder.encode('{"primary_key": "id"}\n')],
    [`${TOP}/db/empty.json`, new Uint8Array(0)],
    [PATH_USTAR_PREFIX, encoder.encode("[\n]\n")],
    [PATH_PAX, encoder.encode("{}\n")],
    [`${TOP}/db/big.json`, randomBytes(1_500_000)],
    [`${TOP}/db/block.json`, new Uint8Array(512).fill(0x20)],
  ];
  const { sink, bytes, closed } = memorySink();
  const writer = ArchiveWriter.create(sink);
  for (const [path, data] of entries) {
    // Alternate whole-buffer and streamed bodies.
    await writer.addEntry(path, data.length, data.length % 2 ? data : streamOf(data, 1000));
  }
  assert.equal(writer.entries, entries.length);
  await writer.finish();
  assert.ok(closed(), "finish() resolved before the sink was closed");
  return { archive: bytes(), entries };
}

Deno.test("ArchiveWriter output reads back through readArchive", async () => {
  assert.ok(PATH_USTAR_PREFIX.length > 100 && PATH_USTAR_PREFIX.length <= 256);
  assert.ok(PATH_PAX.length > 256);
  const { archive, entries } = await sampleArchive();
  assert.deepEqual([...archive.subarray(0, 2)], [0x1f, 0x8b]);
  for (const chunkSize of [7, 65536]) {
    const read = await readAll(archive, chunkSize);
    assert.deepEqual(read.map((e) => e.path), entries.map(([p]) => p));
    for (const [i, [, data]] of entries.entries()) {
      assert.equal(read[i].type, "file");
      assert.equal(read[i].size, data.length);
      assert.deepEqual(read[i].data, data);
    }
  }
  // The plain tar inside reads too.
  const tar = new Uint8Array(gunzipSync(archive));
  assert.deepEqual((await readAll(tar)).map((e) => e.path), entries.map(([p]) => p));
});

const python = await (async () => {
  try {
    const { success } = await new Deno.Command("python3", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: python
    ? "Python's tarfile reads ArchiveWriter output (long paths included)"
    : "Python's tarfile reads ArchiveWriter output [skipped: python3 is not on PATH]",
  ignore: !python,
  async fn() {
    const { archive, entries } = await sampleArchive();
    const dir = await Deno.makeTempDir();
    try {
      const file = `${dir}/dump.tar.gz`;
      await Deno.writeFile(file, archive);
      const script = `
import json, sys, tarfile
out = []
with tarfile.open(sys.argv[1], "r:gz") as tar:
    for m in tar.getmembers():
        data = tar.extractfile(m).read()
        item = {"name": m.name, "size": m.size, "mode": m.mode, "regular": m.isreg(), "mtime": m.mtime}
        if m.name.endswith("/t.json"):
            item["docs"] = json.loads(data.decode("utf-8"))
        out.append(item)
print(json.dumps(out))
`;
      const result = await new Deno.Command("python3", { args: ["-c", script, file] }).output();
      assert.ok(result.success, decoder.decode(result.stderr));
      const members = JSON.parse(decoder.decode(result.stdout));
      assert.deepEqual(members.map((m: { name: string }) => m.name), entries.map(([p]) => p));
      for (const [i, [, data]] of entries.entries()) {
        assert.equal(members[i].size, data.length);
        assert.equal(members[i].mode, 0o644);
        assert.equal(members[i].regular, true);
        assert.ok(Math.abs(members[i].mtime - Date.now() / 1000) < 600);
      }
      assert.deepEqual(members[0].docs, [{ id: 1, s: "Å😀" }, { id: 2 }]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: python
    ? "readArchive() reads long names from Python's tarfile in every format"
    : "readArchive() reads long names from Python's tarfile [skipped: python3 is not on PATH]",
  ignore: !python,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const script = `
import io, sys, tarfile
names = [sys.argv[2], sys.argv[3]]
for fmt, suffix in ((tarfile.USTAR_FORMAT, "ustar"), (tarfile.GNU_FORMAT, "gnu"), (tarfile.PAX_FORMAT, "pax")):
    with tarfile.open(f"{sys.argv[1]}/{suffix}.tar.gz", "w:gz", format=fmt) as tar:
        for name in names:
            if fmt == tarfile.USTAR_FORMAT and len(name) > 256:
                continue
            data = name.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
`;
      const result = await new Deno.Command("python3", {
        args: ["-c", script, dir, PATH_USTAR_PREFIX, PATH_PAX],
      }).output();
      assert.ok(result.success, decoder.decode(result.stderr));
      for (const format of ["ustar", "gnu", "pax"]) {
        const entries = await readAll(await Deno.readFile(`${dir}/${format}.tar.gz`));
        const expected = format === "ustar" ? [PATH_USTAR_PREFIX] : [PATH_USTAR_PREFIX, PATH_PAX];
        assert.deepEqual(entries.map((e) => e.path), expected, format);
        assert.deepEqual(entries.map((e) => decoder.decode(e.data)), expected, format);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("readArchive() reads the official archives in recorded order", async () => {
  const expected = JSON.parse(await Deno.readTextFile(new URL("expected.json", OFFICIAL)));
  for (const name of ["full.tar.gz", "league-users.tar.gz"]) {
    const file = await Deno.open(new URL(name, OFFICIAL));
    const paths: string[] = [];
    for await (const entry of readArchive(file.readable)) {
      paths.push(entry.path);
      assert.equal(entry.type, "file");
      const data = new Uint8Array(await new Response(entry.body).arrayBuffer());
      assert.equal(data.length, entry.size);
      const [, db, table, ext] = /^[^/]+\/([^/]+)\/([^/]+)\.(json|info)$/.exec(entry.path)!;
      if (ext === "json") {
        assert.equal(entry.size, expected[name].tables[`${db}.${table}`].json_bytes);
      }
    }
    assert.deepEqual(paths, expected[name].entries_in_archive_order);
  }
});

Deno.test("readArchive() skips bodies that are not read", async () => {
  const file = await Deno.open(new URL("full.tar.gz", OFFICIAL));
  const seen: ArchiveEntry[] = [];
  for await (const entry of readArchive(file.readable)) seen.push(entry);
  assert.equal(seen.length, 12);
  await assert.rejects(new Response(seen[0].body).arrayBuffer(), /not read before the next entry/);
});

Deno.test("readArchive() releases the source when the consumer stops early", async () => {
  let cancelled = false;
  const bytes = await Deno.readFile(new URL("full.tar.gz", OFFICIAL));
  let offset = 0;
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + 4096));
      offset += 4096;
    },
    cancel() {
      cancelled = true;
    },
  });
  for await (const entry of readArchive(source)) {
    await entry.body.cancel();
    break;
  }
  assert.ok(cancelled);
  assert.ok(offset < bytes.length);
});

Deno.test("readArchive() reports a truncated gzip", async () => {
  const bytes = await Deno.readFile(new URL("full.tar.gz", OFFICIAL));
  for (const length of [10, 20, 1000, 100_000, bytes.length - 100, bytes.length - 3]) {
    await assertArchiveError(
      readAll(bytes.subarray(0, length)),
      /^archive is truncated: the gzip data ends early/,
    );
  }
});

Deno.test("readArchive() reports a truncated tar", async () => {
  const tar = new Uint8Array(gunzipSync(await Deno.readFile(new URL("full.tar.gz", OFFICIAL))));
  const first = "rethinkdb_dump_2026-11-23T20:07:40/other/weird-name_1.json";
  // The first entry is a pax header (512 + 512 bytes), its ustar header (512) and 203 bytes.
  const cases: [number, string][] = [
    [1000, "the tar data ends before the end of its first entry"],
    [1536, `the tar data ends inside entry ${first}`],
    [1536 + 100, `the tar data ends inside entry ${first}`],
    [1536 + 203, `the tar data ends after entry ${first}, before the end-of-archive marker`],
    [2048, `the tar data ends after entry ${first}, before the end-of-archive marker`],
    [2048 + 700, `the tar data ends after entry ${first}, before the end-of-archive marker`],
  ];
  const end = findEnd(tar);
  // (The error may overtake the last entry, so the entry named is the last one delivered.)
  for (const length of [end, end + 512]) {
    cases.push([length, "the tar data ends after entry \\S+, before the end-of-archive marker"]);
  }
  for (const [length, detail] of cases) {
    for (const chunkSize of [100, 65536]) {
      await assertArchiveError(
        readAll(tar.subarray(0, length), chunkSize),
        new RegExp(`^archive is truncated: ${detail.replace(/[.]/g, "\\.")}$`),
      );
    }
  }
  await assertArchiveError(
    readAll(tar.subarray(0, 100)),
    /^not a tar or tar\.gz archive: only 100 bytes, less than a tar header$/,
  );
  // Complete, and with only part of the zero padding after the marker.
  assert.equal((await readAll(tar)).length, 12);
  assert.equal((await readAll(tar.subarray(0, end + 1024))).length, 12);
});

/** The offset of the end-of-archive marker (the first of two zero blocks after the entries). */
function findEnd(tar: Uint8Array): number {
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const block = tar.subarray(offset, offset + 512);
    if (block.every((b) => b === 0)) return offset;
    const size = parseInt(
      decoder.decode(block.subarray(124, 136)).replace(/\0.*$/, "").trim() || "0",
      8,
    );
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error("no end-of-archive marker");
}

Deno.test("readArchive() rejects what is not a tar or tar.gz", async () => {
  await assertArchiveError(
    readAll(new Uint8Array(0)),
    /^not a tar or tar\.gz archive: the file is empty$/,
  );
  await assertArchiveError(readAll(encoder.encode("hello world")), /^not a tar or tar\.gz archive/);
  await assertArchiveError(
    readAll(randomBytes(4096).map((b, i) => (i === 0 ? 0x42 : b))),
    /^not a tar or tar\.gz archive/,
  );
  const json = encoder.encode(`[${'{"id": 1},'.repeat(100)}{"id": 2}]`);
  await assertArchiveError(
    readAll(json),
    /^not a tar or tar\.gz archive: no tar header at the start$/,
  );
  // gzip of something that is not a tar.
  const gz = new Uint8Array(gzipSync(json));
  await assertArchiveError(
    readAll(gz),
    /^not a tar or tar\.gz archive: the gzip data does not hold a tar archive$/,
  );
  // gzip magic followed by garbage.
  await assertArchiveError(
    readAll(new Uint8Array([0x1f, 0x8b, ...randomBytes(100)])),
    /^archive is (corrupt|truncated)/,
  );
});

Deno.test("readArchive() reports a failing source", async () => {
  const gz = await Deno.readFile(new URL("full.tar.gz", OFFICIAL));
  const tar = new Uint8Array(gunzipSync(gz));
  for (const [bytes, cut] of [[gz, 1000], [gz, 100_000], [tar, 100], [tar, 1_000_000]] as const) {
    let sent = false;
    const source = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) return controller.error(new Error("Input/output error (os error 5)\nmore"));
        controller.enqueue(bytes.slice(0, cut));
        sent = true;
      },
    });
    const reading = (async () => {
      for await (const entry of readArchive(source)) await new Response(entry.body).arrayBuffer();
    })();
    await assertArchiveError(
      reading,
      /^cannot read the archive: Input\/output error \(os error 5\)$/,
    );
  }
});

Deno.test("readArchive() reports a damaged archive", async () => {
  const gz = await Deno.readFile(new URL("full.tar.gz", OFFICIAL));
  const crc = gz.slice();
  crc[crc.length - 6] ^= 0xff;
  await assertArchiveError(
    readAll(crc),
    /^archive is corrupt: the gzip checksum does not match the data$/,
  );
  const tar = new Uint8Array(gunzipSync(gz));
  const bad = tar.slice();
  bad[2048 + 10] ^= 0x01; // the name in the second entry's pax header
  await assertArchiveError(
    readAll(bad),
    /^archive is corrupt after entry .*weird-name_1\.json: invalid tar header checksum$/,
  );
});

Deno.test("readArchive() accepts an empty tar and reports entry types", async () => {
  assert.deepEqual(await readAll(new Uint8Array(1024)), []);
  // A tar with a directory and a symlink, written by hand.
  const blocks = [
    header("top/", "5", 0),
    header("top/link", "2", 0, "target"),
    header("top/db/t.json", "0", 3),
    padded(encoder.encode("[]\n")),
    new Uint8Array(1024),
  ];
  const entries = await readAll(concat(blocks));
  assert.deepEqual(entries.map((e) => [e.path, e.type, e.size]), [
    ["top/", "directory", 0],
    ["top/link", "symlink", 0],
    ["top/db/t.json", "file", 3],
  ]);
});

Deno.test("readArchive() decodes GNU long names and pax paths", async () => {
  const long = `${TOP}/${LONG_DB}/${LONG_TABLE}.json`;
  const longName = encoder.encode(long + "\0");
  const paxRecord = (key: string, value: string) => {
    const body = ` ${key}=${value}\n`;
    let length = body.length + 1;
    while (`${length}${body}`.length !== length) length = `${length}${body}`.length;
    return `${length}${body}`;
  };
  const pax = encoder.encode(
    paxRecord("path", `${long}.pax`) + paxRecord("mtime", "1795464461.06"),
  );
  const tar = concat([
    header("././@LongLink", "L", longName.length),
    padded(longName),
    header(long.slice(0, 100), "0", 2),
    padded(encoder.encode("[]")),
    header(`PaxHeader/${long}`.slice(0, 100), "x", pax.length),
    padded(pax),
    header(long.slice(0, 100), "0", 3),
    padded(encoder.encode("[ ]")),
    new Uint8Array(1024),
  ]);
  const entries = await readAll(tar);
  assert.deepEqual(entries.map((e) => [e.path, e.size, decoder.decode(e.data)]), [
    [long, 2, "[]"],
    [`${long}.pax`, 3, "[ ]"],
  ]);
});

function padded(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.length / 512) * 512);
  out.set(data);
  return out;
}

function header(name: string, type: string, size: number, link = ""): Uint8Array {
  const block = new Uint8Array(512);
  const put = (offset: number, text: string) => block.set(encoder.encode(text), offset);
  put(0, name);
  put(100, "0000644\0");
  put(108, "0000000\0");
  put(116, "0000000\0");
  put(124, size.toString(8).padStart(11, "0") + "\0");
  put(136, "00000000000\0");
  put(156, type);
  put(157, link);
  put(257, "ustar\0" + "00");
  block.fill(0x20, 148, 156);
  const sum = block.reduce((n, b) => n + b, 0);
  put(148, sum.toString(8).padStart(6, "0") + "\0 ");
  return block;
}

Deno.test("ArchiveWriter serialises concurrent addEntry() calls in call order", async () => {
  const { sink, bytes } = memorySink();
  const writer = ArchiveWriter.create(sink);
  const slowBody = (text: string, delayMs: number) => {
    const data = encoder.encode(text);
    let sent = false;
    return {
      size: data.length,
      body: new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (sent) return controller.close();
          await new Promise((resolve) => setTimeout(resolve, delayMs));
          controller.enqueue(data);
          sent = true;
        },
      }),
    };
  };
  const names = ["a", "b", "c", "d", "e"];
  const delays = [30, 1, 20, 0, 5];
  await Promise.all(names.map((name, i) => {
    const { size, body } = slowBody(name.repeat(100 + i), delays[i]);
    return writer.addEntry(`top/db/${name}.json`, size, body);
  }));
  await writer.finish();
  const read = await readAll(bytes());
  assert.deepEqual(read.map((e) => e.path), names.map((n) => `top/db/${n}.json`));
  assert.deepEqual(read.map((e) => decoder.decode(e.data)), names.map((n, i) => n.repeat(100 + i)));
});

Deno.test("ArchiveWriter rejects a buffer of the wrong size without breaking the archive", async () => {
  const { sink, bytes } = memorySink();
  const writer = ArchiveWriter.create(sink);
  await assertArchiveError(
    writer.addEntry("top/db/t.json", 5, encoder.encode("abc")),
    /^top\/db\/t\.json: the entry body has 3 bytes, but 5 were declared$/,
  );
  await assertArchiveError(
    writer.addEntry("top/db/t.json", -1, new Uint8Array(0)),
    /invalid entry size -1/,
  );
  await writer.addEntry("top/db/t.json", 3, encoder.encode("abc"));
  await writer.finish();
  assert.deepEqual((await readAll(bytes())).map((e) => decoder.decode(e.data)), ["abc"]);
  await assertArchiveError(writer.addEntry("top/x", 0, new Uint8Array(0)), /after finish\(\)/);
});

Deno.test("ArchiveWriter fails the archive on a body stream of the wrong size", async () => {
  for (
    const [size, text, pattern] of [
      [
        5,
        "abcdefg",
        /^top\/db\/t\.json: the entry body has more than 5 bytes, but 5 were declared$/,
      ],
      [10, "abcdefg", /^top\/db\/t\.json: the entry body has 7 bytes, but 10 were declared$/],
    ] as const
  ) {
    let aborted: unknown;
    const writer = ArchiveWriter.create(
      new WritableStream({
        abort(reason) {
          aborted = reason;
        },
      }),
    );
    await writer.addEntry("top/db/ok.json", 2, encoder.encode("ok"));
    let cancelled = false;
    const later = new ReadableStream<Uint8Array>({
      cancel() {
        cancelled = true;
      },
    });
    const first = writer.addEntry("top/db/t.json", size, streamOf(encoder.encode(text), 3));
    const second = writer.addEntry("top/db/u.json", 1, later);
    await assertArchiveError(first, pattern);
    await assertArchiveError(
      second,
      /^top\/db\/u\.json: not written, the archive failed: top\/db\/t\.json: the entry body/,
    );
    assert.ok(cancelled, "the body of a later entry was not cancelled");
    await assertArchiveError(writer.finish(), pattern);
    assert.ok(aborted instanceof ArchiveError);
  }
});

Deno.test("ArchiveWriter passes on the error of a failing body stream", async () => {
  const writer = ArchiveWriter.create(new WritableStream());
  const failure = new Error("connection lost");
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode("abc"));
      controller.error(failure);
    },
  });
  await assert.rejects(writer.addEntry("top/db/t.json", 10, body), (error) => error === failure);
  await assert.rejects(writer.finish(), (error) => error === failure);
});

Deno.test("ArchiveWriter reports a failing sink", async () => {
  const writer = ArchiveWriter.create(
    new WritableStream({
      write() {
        throw new Error("No space left on device (os error 28)");
      },
    }),
  );
  const data = randomBytes(20 << 20); // more than the buffers between the tar and the sink
  await assertArchiveError(
    writer.addEntry("top/db/t.json", data.length, streamOf(data)),
    /^top\/db\/t\.json: cannot write the archive: No space left on device \(os error 28\)$/,
  );
  await assertArchiveError(writer.finish(), /No space left on device/);
});

Deno.test("ArchiveWriter reports a sink that fails on close", async () => {
  const writer = ArchiveWriter.create(
    new WritableStream({
      close() {
        throw new Error("disk quota exceeded");
      },
    }),
  );
  await writer.addEntry("top/db/t.json", 2, encoder.encode("[]"));
  await assertArchiveError(writer.finish(), /^cannot write the archive: disk quota exceeded$/);
});

Deno.test("ArchiveWriter.abort() aborts the sink and pending entries", async () => {
  let aborted: unknown;
  const writer = ArchiveWriter.create(
    new WritableStream({
      abort(reason) {
        aborted = reason;
      },
    }),
  );
  let cancelled = false;
  const stalled = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode("abc"));
    },
    cancel() {
      cancelled = true;
    },
  });
  const pending = writer.addEntry("top/db/t.json", 10, stalled);
  const queued = writer.addEntry("top/db/u.json", 1, encoder.encode("x"));
  await new Promise((resolve) => setTimeout(resolve, 10));
  const reason = new Error("interrupted");
  await writer.abort(reason);
  assert.equal(aborted, reason);
  assert.ok(cancelled);
  await assertArchiveError(
    pending,
    /^top\/db\/t\.json: not written, the archive failed: interrupted$/,
  );
  await assertArchiveError(
    queued,
    /^top\/db\/u\.json: not written, the archive failed: interrupted$/,
  );
  await assert.rejects(writer.finish(), (error) => error === reason);
});

Deno.test("ArchiveWriter applies backpressure from a slow sink", async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let written = 0;
  let closed = false;
  const writer = ArchiveWriter.create(
    new WritableStream({
      async write(chunk) {
        await gate;
        written += chunk.length;
      },
      close() {
        closed = true;
      },
    }),
  );
  const block = randomBytes(1 << 20); // incompressible
  const total = 64 << 20;
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= total) return controller.close();
      controller.enqueue(block.slice());
      pulled += block.length;
    },
  }, { highWaterMark: 0 });
  const adding = writer.addEntry("top/db/big.json", total, body);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.ok(pulled < 24 << 20, `read ${pulled >> 20} MiB of the body while the sink was stalled`);
  release();
  await adding;
  await writer.finish();
  assert.ok(closed);
  assert.ok(written > total);
  assert.equal(pulled, total);
});
