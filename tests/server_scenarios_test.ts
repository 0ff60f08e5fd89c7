/**
 * Replays the wire transcripts recorded from a real RethinkDB 2.4.4 server against the test
 * server and compares every response: `scenarios.jsonl` (rethinkdb-ts client) and the official
 * Python tools' dump and restore. Prints which recorded scenarios match exactly, which after
 * normalisation (and which), and which do not.
 */

import assert from "node:assert/strict";
import { r } from "npm:rethinkdb-ts@3.0.0";
import { inProcessTarget, type TestTarget } from "./support/target.ts";
import { seedOfficialData } from "./support/seed.ts";
import { readJsonLines, specDir } from "./support/shared.ts";
import { RawClient } from "./support/raw_client.ts";
import {
  type Comparison,
  replayTranscript,
  summarise,
  type WireRecord,
} from "./support/transcript.ts";

/** Databases the recording server had besides the archive's (`bench.docs`, `emptydb`). */
async function addRecordingExtras(target: TestTarget): Promise<void> {
  const conn = await target.connect();
  await r.dbCreate("bench").run(conn);
  await r.db("bench").tableCreate("docs").run(conn);
  await r.dbCreate("emptydb").run(conn);
}

function report(title: string, results: Comparison[]): void {
  const lines = [`\n${title}`];
  for (const s of summarise(results)) {
    const notes = s.notes.length > 0 ? ` (${s.notes.join("; ")})` : "";
    lines.push(`  ${s.status.padEnd(10)} ${s.scenario}${notes}`);
  }
  for (const m of results.filter((x) => x.status === "mismatch")) {
    lines.push(`  MISMATCH ${m.scenario} / ${m.label}\n${m.detail ?? ""}`);
  }
  console.log(lines.join("\n"));
}

async function wire(name: string): Promise<WireRecord[]> {
  return await readJsonLines(new URL(`wire/${name}`, specDir())) as WireRecord[];
}

Deno.test("scenarios.jsonl replays against the test server", async () => {
  const target = await inProcessTarget({ serverName: "vm_env" });
  try {
    await seedOfficialData(target);
    await addRecordingExtras(target);
    const results = await replayTranscript(await wire("scenarios.jsonl"), {
      host: target.host,
      port: target.port,
      // Conn 1 has no password; conn 2 tries a wrong one after admin got `s3cret`; conn 3 is right.
      password: (conn) => (conn === 1 ? "" : conn === 2 ? "wrong" : "s3cret"),
      beforeConnection: async (conn) => {
        if (conn !== 2) return;
        const admin = await RawClient.open(target.host, target.port);
        await admin.handshake("admin", "");
        const update = [15, [[14, ["rethinkdb"]], "users"]];
        const res = await admin.query(1, [1, [53, [[16, [update, "admin"]], {
          password: "s3cret",
        }]]]);
        admin.close();
        assert.equal(res?.t, 1);
      },
      connectionScenario: (conn) =>
        [
          "handshake without password (conn 1)",
          "wrong password (conn 2)",
          "right password (conn 3)",
        ][
          conn - 1
        ],
    });
    // As the recording script did, give admin its empty password back.
    target.server!.setPassword("admin", null);
    report("scenarios.jsonl", results);
    assert.deepEqual(results.filter((x) => x.status === "mismatch"), []);
  } finally {
    await target.cleanup();
  }
});

Deno.test("official dump transcript replays against the test server", async () => {
  const target = await inProcessTarget({ serverName: "vm_env", password: "official" });
  try {
    await seedOfficialData(target);
    await addRecordingExtras(target);
    const results = await replayTranscript(await wire("official-dump.jsonl.gz"), {
      host: target.host,
      port: target.port,
      password: () => "official",
      defaultScenario: "official dump",
    });
    report("official-dump.jsonl.gz", results.map((x) => ({ ...x, scenario: x.label })));
    assert.deepEqual(results.filter((x) => x.status === "mismatch"), []);
  } finally {
    await target.cleanup();
  }
});

Deno.test("official restore transcript replays against the test server", async () => {
  const target = await inProcessTarget({ serverName: "vm_env", password: "official" });
  try {
    // The restore server already had `other.large_docs`, `other.weird-name_1` and `bench.docs`.
    await seedOfficialData(target, { only: ["other.large_docs", "other.weird-name_1"] });
    const conn = await target.connect();
    await r.dbCreate("bench").run(conn);
    await r.db("bench").tableCreate("docs").run(conn);
    const results = await replayTranscript(await wire("official-restore.jsonl.gz"), {
      host: target.host,
      port: target.port,
      password: () => "official",
      defaultScenario: "official restore",
    });
    report("official-restore.jsonl.gz", results.map((x) => ({ ...x, scenario: x.label })));
    assert.deepEqual(results.filter((x) => x.status === "mismatch"), []);
  } finally {
    await target.cleanup();
  }
});
