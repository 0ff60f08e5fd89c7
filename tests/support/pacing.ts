/**
 * Helpers of the `--max-rate` and `--backoff` tests: a table of documents that all have the
 * same JSON length, an archive of it, what the test server saw of a run (when each read batch
 * and each insert was asked for), and waiting for a condition with a deadline.
 *
 * @module
 */

import { connect } from "../../src/connection/driver.ts";
import { dump } from "../../src/dump/run.ts";
import { containsTerm } from "../server/faults.ts";
import { TermType } from "../server/reql/proto.ts";
import type { TestTarget } from "./target.ts";

/** Bytes of each document's JSON from {@link seedTable}: `{"id":"000001","pad":"xx…"}`. */
export const DOCUMENT_BYTES = 100;

/**
 * Creates `db.t` (creating `db`) holding `count` documents of {@link DOCUMENT_BYTES} bytes of
 * JSON each, ids `000000` on.
 */
export async function seedTable(target: TestTarget, db: string, count: number): Promise<void> {
  const conn = await connect({ host: target.host, port: target.port, password: target.password });
  try {
    await conn.createDatabase(db);
    await conn.createTable(db, "t", { primaryKey: "id" });
    const pad = "x".repeat(DOCUMENT_BYTES - `{"id":"000000","pad":""}`.length);
    for (let from = 0; from < count; from += 2000) {
      const docs = [];
      for (let i = from; i < Math.min(count, from + 2000); i++) {
        docs.push(`{"id":"${String(i).padStart(6, "0")}","pad":"${pad}"}`);
      }
      await conn.insertJson(db, "t", `[${docs.join(",")}]`);
    }
  } finally {
    await conn.close();
  }
}

/** Dumps `db` (unpaced) into `file`. */
export async function archiveOf(target: TestTarget, db: string, file: string): Promise<void> {
  await dump({
    connect: { host: target.host, port: target.port, password: target.password },
    file,
    exports: [db],
    progress: { quiet: true },
  });
}

/** When (ms, `performance.now()`) the test server was asked for what a run reads or writes. */
export interface ServerView {
  /** Each read batch's request: the read's START, then each CONTINUE. */
  readonly reads: number[];
  /** Each insert's START. */
  readonly inserts: number[];
}

/**
 * Watches what the in-process test server is asked for, from now until its faults are reset.
 * (Through a delay rule that never matches: its matcher is shown each query's start and each
 * later batch of an open read.)
 */
export function watchServer(target: TestTarget): ServerView {
  const view = { reads: [] as number[], inserts: [] as number[] };
  target.server!.faults.delayResponses(0, (query) => {
    if (containsTerm(query.term, TermType.ORDER_BY)) view.reads.push(performance.now());
    else if (query.termType === TermType.INSERT) view.inserts.push(performance.now());
    return false;
  });
  return view;
}

/**
 * Documents (or bytes) per second over the requests in `times`, when each asked for `perRequest`:
 * everything asked for after the first request, over the time since it. A restore pays for a
 * batch before sending it: pass its inserts. A dump pays for a batch after it arrives, and its
 * read asks for the next batch as it takes one (one batch ahead): pass its reads from the second
 * on (`reads.slice(1)`), the first that waited for a payment. Either way, the pace the server
 * was held to.
 */
export function paceOf(times: readonly number[], perRequest: number): number {
  const span = (times.at(-1)! - times[0]) / 1000;
  return ((times.length - 1) * perRequest) / span;
}

/** Waits until `condition()` holds, checking every 20 ms; fails after `ms` naming `what`. */
export async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
