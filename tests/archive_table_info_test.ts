import assert from "node:assert/strict";
import {
  BACKUP_RECORD_KEY,
  type BackupRecord,
  decodeInfo,
  encodeInfo,
  finishInfo,
  prepareInfo,
  savedConfigFromTableConfig,
} from "../src/archive/table_info.ts";
import { ArchiveError } from "../src/archive/errors.ts";
import { readArchive } from "../src/archive/tar_reader.ts";
import { splitDocuments } from "../src/archive/documents.ts";
import { parseEntryPath } from "../src/archive/layout.ts";
import type { IndexStatus, TableInfo, WriteHook } from "../src/connection/driver.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const OFFICIAL = new URL("../../shared/rethinkdb-2.4.4/official-dumps/", import.meta.url);

const info: TableInfo = {
  db: { id: "f58ec469-2034-4dcd-bbf7-d6cd8e5f6aef", name: "league", type: "DB" },
  doc_count_estimates: [959],
  id: "fd9ca4a6-a6a4-494e-8de4-56c8212a2b51",
  indexes: ["name"],
  name: "users",
  primary_key: "uid",
  type: "TABLE",
};
const index: IndexStatus = {
  function: { $reql_type$: "BINARY", data: "JHJlcWxfaW5kZXhf\r\nZnVuY3Rpb24k" },
  geo: false,
  index: "name",
  multi: false,
  outdated: false,
  query: "indexCreate('name', function(_var19) { return _var19.getField(\"name\"); })",
  ready: true,
};
const hook: WriteHook = {
  function: { $reql_type$: "BINARY", data: "JHJlcWxfd3JpdGVf\r\naG9vaw==" },
  query: "setWriteHook(function(var1, var2, var3) { return var3; })",
};

function bytesOf(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value) + "\n");
}

Deno.test("encodeInfo() writes one JSON line with indexStatus and write_hook", () => {
  const bytes = encodeInfo(info, [index], hook);
  const text = decoder.decode(bytes);
  assert.ok(text.endsWith("}\n"));
  assert.equal(text.indexOf("\n"), text.length - 1);
  const parsed = JSON.parse(text);
  assert.deepEqual(parsed, { ...info, indexes: [index], write_hook: hook });
  assert.deepEqual(Object.keys(parsed), [...Object.keys(info), "write_hook"]);
  assert.equal(JSON.parse(decoder.decode(encodeInfo(info, [], null))).write_hook, null);
  assert.ok(decoder.decode(encodeInfo(info, [], null)).includes('"write_hook":null'));
});

Deno.test("decodeInfo() reads what encodeInfo() writes", () => {
  const meta = decodeInfo(encodeInfo(info, [index], hook), "top/league/users.info");
  assert.equal(meta.db, "league");
  assert.equal(meta.table, "users");
  assert.equal(meta.primaryKey, "uid");
  assert.deepEqual(meta.indexes, [index]);
  assert.deepEqual(meta.droppedIndexes, []);
  assert.deepEqual(meta.writeHook, hook);
  assert.equal(meta.raw.id, info.id);
  const none = decodeInfo(encodeInfo(info, [], null), "top/league/users.info");
  assert.deepEqual(none.indexes, []);
  assert.equal(none.writeHook, null);
});

Deno.test("decodeInfo() tolerates older dumps", () => {
  const path = "top/db/t.info";
  // No write_hook key, no indexes key.
  const minimal = decodeInfo(bytesOf({ primary_key: "id" }), path);
  assert.equal(minimal.writeHook, null);
  assert.deepEqual(minimal.indexes, []);
  assert.equal(minimal.db, undefined);
  assert.equal(minimal.table, undefined);
  // `indexes` as names (table.info() not replaced by indexStatus()), or without function blobs.
  const names = decodeInfo(bytesOf({ primary_key: "id", indexes: ["a", "b"] }), path);
  assert.deepEqual(names.indexes, []);
  assert.deepEqual(names.droppedIndexes, ["a", "b"]);
  const mixed = decodeInfo(
    bytesOf({
      primary_key: "id",
      indexes: [index, { index: "old", ready: true }],
      write_hook: null,
    }),
    path,
  );
  assert.deepEqual(mixed.indexes.map((i) => i.index), ["name"]);
  assert.deepEqual(mixed.droppedIndexes, ["old"]);
  // Python's formatting (spaces) and a trailing newline or none.
  const python = encoder.encode('{"primary_key": "id", "indexes": [], "write_hook": null}');
  assert.equal(decodeInfo(python, path).primaryKey, "id");
});

Deno.test("decodeInfo() rejects malformed entries, naming the entry", () => {
  const path = "top/db/t.info";
  const cases: [Uint8Array, RegExp][] = [
    [encoder.encode("{"), /^top\/db\/t\.info: invalid JSON: /],
    [encoder.encode(""), /^top\/db\/t\.info: invalid JSON: /],
    [new Uint8Array([0x7b, 0xff, 0x7d]), /^top\/db\/t\.info: invalid UTF-8$/],
    [bytesOf([1]), /^top\/db\/t\.info: not a JSON object$/],
    [bytesOf({}), /^top\/db\/t\.info: "primary_key" is missing or not a non-empty string$/],
    [bytesOf({ primary_key: 5 }), /"primary_key" is missing or not a non-empty string/],
    [bytesOf({ primary_key: "id", indexes: {} }), /^top\/db\/t\.info: "indexes" is not an array$/],
    [
      bytesOf({ primary_key: "id", indexes: [5] }),
      /^top\/db\/t\.info: "indexes"\[0\] is neither an index name nor an object with "index"$/,
    ],
    [
      bytesOf({ primary_key: "id", indexes: [{ index: "x", function: "abc" }] }),
      /^top\/db\/t\.info: "indexes"\[0\] \(x\): "function" is not a BINARY value$/,
    ],
    [
      bytesOf({ primary_key: "id", write_hook: "x" }),
      /^top\/db\/t\.info: "write_hook" is neither null nor an object with a BINARY "function"$/,
    ],
    [
      bytesOf({ primary_key: "id", write_hook: { function: {}, query: "" } }),
      /"write_hook" is neither null/,
    ],
  ];
  for (const [bytes, pattern] of cases) {
    assert.throws(() => decodeInfo(bytes, path), (error: unknown) => {
      assert.ok(error instanceof ArchiveError);
      assert.match(error.message, pattern);
      assert.ok(!error.message.includes("\n"));
      return true;
    });
  }
});

Deno.test("the official archives decode to the recorded tables", async () => {
  const expected = JSON.parse(await Deno.readTextFile(new URL("expected.json", OFFICIAL)));
  for (const name of ["full.tar.gz", "league-users.tar.gz"]) {
    const tables = expected[name].tables;
    const seen = new Set<string>();
    const file = await Deno.open(new URL(name, OFFICIAL));
    for await (const entry of readArchive(file.readable)) {
      const parsed = parseEntryPath(entry.path)!;
      const key = `${parsed.db}.${parsed.table}`;
      const table = tables[key];
      assert.ok(table, key);
      if (parsed.ext === "info") {
        const meta = decodeInfo(
          new Uint8Array(await new Response(entry.body).arrayBuffer()),
          entry.path,
        );
        assert.equal(meta.db, parsed.db);
        assert.equal(meta.table, parsed.table);
        assert.equal(meta.primaryKey, table.primary_key);
        assert.deepEqual(
          meta.indexes.map((i) => ({ index: i.index, multi: i.multi, geo: i.geo })),
          table.indexes,
        );
        assert.deepEqual(meta.droppedIndexes, []);
        assert.equal(meta.writeHook !== null, table.write_hook, key);
        for (const i of meta.indexes) assert.match(i.function.data, /\r\n/);
        // Re-encoding keeps the content.
        assert.deepEqual(
          JSON.parse(
            decoder.decode(encodeInfo(meta.raw as TableInfo, meta.indexes, meta.writeHook)),
          ),
          meta.raw,
        );
      } else {
        let documents = 0;
        let bytes = 0;
        let lastEnd = 0;
        for await (const batch of splitDocuments(entry.body, entry.path)) {
          documents += batch.count;
          bytes += batch.bytes;
          lastEnd = batch.endOffset;
          assert.equal(JSON.parse(batch.json).length, batch.count);
        }
        assert.equal(documents, table.documents, key);
        assert.equal(entry.size, table.json_bytes);
        // "[\n" + docs joined by ",\n" + "\n]\n"
        if (documents > 0) {
          assert.equal(bytes + 2 * (documents - 1) + 2 + 3, entry.size);
          assert.equal(lastEnd, entry.size - 3);
        }
      }
      seen.add(`${key}.${parsed.ext}`);
    }
    assert.equal(seen.size, 2 * Object.keys(tables).length);
  }
});

const record: BackupRecord = {
  tool: "rethinkdb-backup",
  version: "0.1.0",
  documents: 959,
  json_bytes: 572113,
  json_sha256: "0123456789abcdef".repeat(4),
  read_started: "2026-11-24T10:11:12.000Z",
  read_ended: "2026-11-24T10:11:13.500Z",
  config: { shards: 1, replicas: 1, durability: "hard", write_acks: "majority" },
};

Deno.test("encodeInfo() with a record adds one key and leaves what the official restore reads", () => {
  const plain = JSON.parse(decoder.decode(encodeInfo(info, [index], hook)));
  const withRecord = JSON.parse(decoder.decode(encodeInfo(info, [index], hook, record)));
  // The official restore reads only primary_key, indexes and write_hook.
  for (const key of ["primary_key", "indexes", "write_hook"]) {
    assert.deepEqual(withRecord[key], plain[key], key);
  }
  assert.deepEqual(Object.keys(withRecord), [...Object.keys(plain), BACKUP_RECORD_KEY]);
  assert.deepEqual(withRecord[BACKUP_RECORD_KEY], record);
  const meta = decodeInfo(encodeInfo(info, [index], hook, record), "top/league/users.info");
  assert.deepEqual(meta.backup, record);
  assert.equal(meta.primaryKey, "uid");
  assert.deepEqual(meta.writeHook, hook);
  // No record: absent, as for official archives; re-encoding a decoded entry keeps one key.
  assert.equal(decodeInfo(encodeInfo(info, [], null), "x.info").backup, undefined);
  const again = encodeInfo(meta.raw as TableInfo, meta.indexes, meta.writeHook, meta.backup);
  assert.equal(decoder.decode(again).split(BACKUP_RECORD_KEY).length, 2);
  // A record without config is valid too.
  const { config: _, ...bare } = record;
  assert.deepEqual(decodeInfo(encodeInfo(info, [], null, bare), "x.info").backup, bare);
});

Deno.test("decodeInfo() rejects a malformed record, naming the entry and the field", () => {
  const path = "top/db/t.info";
  const cases: [unknown, RegExp][] = [
    ["x", /^top\/db\/t\.info: "rethinkdb_backup" is not a JSON object$/],
    [{ ...record, tool: 1 }, /"rethinkdb_backup"\.tool is missing or not a string$/],
    [{ ...record, documents: -1 }, /\.documents is missing or not a non-negative integer$/],
    [{ ...record, documents: 1.5 }, /\.documents is missing/],
    [{ ...record, json_bytes: "5" }, /\.json_bytes is missing/],
    [{ ...record, json_sha256: "ABC" }, /\.json_sha256 is missing or not 64 lowercase hex/],
    [{ ...record, read_started: "yesterday" }, /\.read_started is missing or not an ISO 8601/],
    [{ ...record, read_ended: undefined }, /\.read_ended is missing/],
    [{ ...record, config: [] }, /\.config is missing or not an object$/],
    [{ ...record, config: { ...record.config, shards: 0 } }, /\.config\.shards is missing/],
    [{ ...record, config: { ...record.config, replicas: "1" } }, /\.config\.replicas/],
    [{ ...record, config: { ...record.config, durability: 1 } }, /\.config\.durability/],
  ];
  for (const [value, pattern] of cases) {
    const bytes = bytesOf({ primary_key: "id", [BACKUP_RECORD_KEY]: value });
    assert.throws(() => decodeInfo(bytes, path), (error: unknown) => {
      assert.ok(error instanceof ArchiveError);
      assert.match(error.message, pattern);
      assert.ok(error.message.startsWith(`${path}: `));
      return true;
    });
  }
});

Deno.test("savedConfigFromTableConfig() keeps counts and settings, no server names", () => {
  const raw = {
    db: "league",
    durability: "soft",
    id: "fd9ca4a6-a6a4-494e-8de4-56c8212a2b51",
    indexes: ["name"],
    name: "users",
    primary_key: "uid",
    shards: [
      { nonvoting_replicas: [], primary_replica: "srv_a", replicas: ["srv_a", "srv_b"] },
      { nonvoting_replicas: [], primary_replica: "srv_b", replicas: ["srv_b", "srv_c", "srv_a"] },
    ],
    write_acks: "single",
    write_hook: null,
  };
  const saved = savedConfigFromTableConfig(raw);
  assert.deepEqual(saved, { shards: 2, replicas: 3, durability: "soft", write_acks: "single" });
  assert.ok(!JSON.stringify(saved).includes("srv_"));
  assert.equal(savedConfigFromTableConfig(null), undefined);
  assert.equal(savedConfigFromTableConfig({ ...raw, shards: [] }), undefined);
  assert.equal(savedConfigFromTableConfig({ ...raw, shards: [{}] }), undefined);
  assert.equal(savedConfigFromTableConfig({ ...raw, durability: undefined }), undefined);
});

Deno.test("prepareInfo + finishInfo: the same bytes as the whole object encoded, the record last", () => {
  const info = {
    db: { id: "f58e", name: "league", type: "DB" },
    doc_count_estimates: [3],
    id: "fd9c",
    indexes: ["email"],
    name: "users",
    primary_key: "uid",
    type: "TABLE",
    [BACKUP_RECORD_KEY]: { stale: true },
  } as unknown as TableInfo;
  const indexes = [{
    index: "email",
    ready: true,
    function: { $reql_type$: "BINARY", data: "AAE=" },
  }] as unknown as IndexStatus[];
  const hook = { function: { $reql_type$: "BINARY", data: "AAI=" }, query: "x" } as WriteHook;
  const record: BackupRecord = {
    tool: "rethinkdb-backup",
    version: "1.0.0",
    documents: 3,
    json_bytes: 10,
    json_sha256: "ab".repeat(32),
    read_started: "2026-12-06T10:00:00.000Z",
    read_ended: "2026-12-06T10:00:00.001Z",
  };
  const whole = { ...info, indexes, write_hook: hook } as Record<string, unknown>;
  delete whole[BACKUP_RECORD_KEY];
  const decoder = new TextDecoder();
  const prepared = prepareInfo(info, indexes, hook);
  assert.equal(decoder.decode(finishInfo(prepared)), `${JSON.stringify(whole)}\n`);
  whole[BACKUP_RECORD_KEY] = record;
  assert.equal(decoder.decode(finishInfo(prepared, record)), `${JSON.stringify(whole)}\n`);
  assert.deepEqual(finishInfo(prepared, record), encodeInfo(info, indexes, hook, record));
  const decoded = decodeInfo(finishInfo(prepared, record), "top/league/users.info");
  assert.deepEqual(decoded.backup, record);
});
