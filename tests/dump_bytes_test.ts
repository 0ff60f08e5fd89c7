/**
 * Lossless end to end: documents go from the server's response frames into the archive byte for
 * byte (`-0.0`, `12345678901234567000.0`, raw UTF-8, sorted keys, `\u0000`), and survive a
 * restore and a second dump unchanged. The expected bytes are the real server's, recorded in
 * `../shared/rethinkdb-2.4.4/wire/raw-frames.jsonl`.
 */
import assert from "node:assert/strict";
import { r } from "npm:rethinkdb-ts@3.0.0";
import { readArchive } from "../src/archive/mod.ts";
import { scanResponse } from "../src/connection/raw_documents.ts";
import { dump } from "../src/dump/run.ts";
import { restore } from "../src/restore/run.ts";
import { specDir } from "./support/shared.ts";
import { testTarget } from "./support/target.ts";

const lines = (await Deno.readTextFile(new URL("wire/raw-frames.jsonl", specDir())))
  .trim().split("\n").map((line) => JSON.parse(line));
const inserted = (lines[0].scenario as string).replace(/^[^:]*: /, "");
const recordedBody = new TextEncoder().encode(lines[1].body);

/** The `.json` entry the recorded frame's documents make, in the official layout. */
function expectedEntry(): string {
  const { batch } = scanResponse(recordedBody, "id");
  const decoder = new TextDecoder();
  const docs = Array.from(
    { length: batch.count },
    (_, i) => decoder.decode(batch.frame.subarray(batch.starts[i], batch.ends[i])),
  );
  return `[\n${docs.join(",\n")}\n]\n`;
}

async function jsonEntry(file: string): Promise<string> {
  for await (const entry of readArchive((await Deno.open(file)).readable)) {
    if (entry.path.endsWith(".json")) return await new Response(entry.body).text();
    await entry.body.cancel();
  }
  throw new Error("no .json entry");
}

Deno.test("dump: document bytes are the server's, byte for byte; -0.0 survives dump → restore → dump", async () => {
  const target = await testTarget();
  const dir = await Deno.makeTempDir();
  try {
    const connect = { host: target.host, port: target.port, password: target.password };
    const db = target.uniqueDb("bytes");
    const conn = await target.connect();
    await r.dbCreate(db).run(conn);
    await r.db(db).tableCreate("t").run(conn);
    await r.db(db).table("t").insert(r.json(inserted)).run(conn);

    const first = `${dir}/first.tar.gz`;
    await dump({ connect, file: first, exports: [db], progress: { quiet: true } });
    const entry = await jsonEntry(first);
    assert.equal(entry, expectedEntry());
    assert.ok(entry.includes('"neg_zero":-0.0') && entry.includes("12345678901234567000.0"));

    const copy = target.uniqueDb("bytes_copy");
    await restore({
      connect,
      archive: first,
      renames: [`${db}=${copy}`],
      progress: { quiet: true },
    });
    const second = `${dir}/second.tar.gz`;
    await dump({ connect, file: second, exports: [copy], progress: { quiet: true } });
    assert.equal(await jsonEntry(second), entry);
  } finally {
    await target.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});
