/**
 * `--backoff` end to end against the test server: when the server's latency rises mid-run (an
 * injected delay on the reads or inserts) the dump and the restore slow down, and when it falls
 * again they speed up to `--max-rate`. Asserted on the control loop's decisions, with bounds a
 * busy machine keeps: the tuning is quicker than the default (fewer samples, shorter
 * decisions), the loop the same.
 */
import assert from "node:assert/strict";
import { dump } from "../src/dump/run.ts";
import { restore } from "../src/restore/run.ts";
import type { BackoffState, BackoffTuning } from "../src/throttle/backoff.ts";
import { parseRate } from "../src/throttle/rate.ts";
import { containsTerm, type QueryMatcher } from "./server/faults.ts";
import { TermType } from "./server/reql/proto.ts";
import { archiveOf, seedTable, until } from "./support/pacing.ts";
import { faultsSkipReason, type TestTarget, testTarget } from "./support/target.ts";

/** The ceiling of these runs: backoff starts from it and comes back to it. */
const CEILING = 4000;
/** The injected latency: far above the test server's few milliseconds. */
const DELAY_MS = 100;

/** Decisions every 150 ms and 3 batches; a floor of a tenth of full speed. */
const TUNING: Partial<BackoffTuning> = {
  baselineSamples: 10,
  decisionSamples: 3,
  decisionIntervalMs: 150,
  minShare: 0.1,
  increaseStep: 0.1,
};

/**
 * Drives one run through the three phases: learn the baseline, slow down while `delayed`
 * queries are held {@link DELAY_MS}, come back once the delay is lifted. `start` begins the run,
 * reporting every decision; returns the decisions.
 */
async function throughPhases(
  target: TestTarget,
  delayed: QueryMatcher,
  start: (onDecision: (state: BackoffState) => void) => Promise<unknown>,
): Promise<BackoffState[]> {
  const decisions: BackoffState[] = [];
  let finished = false;
  const running = start((state) => decisions.push(state)).finally(() => finished = true);
  const phase = async (what: string, condition: () => boolean) => {
    await until(() => condition() || finished, 30_000, what);
    assert.ok(condition(), `the run ended before ${what}: ${describe(decisions)}`);
  };
  try {
    await phase("the baseline", () => decisions.some((d) => d.decision === "learned"));
    const learned = decisions.length;
    assert.equal(decisions[learned - 1].rate, undefined, "at full speed while learning");

    target.server!.faults.delayResponses(DELAY_MS, delayed);
    await phase(
      "slowing down to a quarter of the ceiling",
      () => decisions.slice(learned).some((d) => d.rate !== undefined && d.rate <= CEILING / 4),
    );
    const slowed = decisions.length;
    // What it watched was the server's latency: the injected delay, whatever its own pauses.
    const slower = decisions.slice(learned, slowed).filter((d) => d.decision === "slower");
    assert.ok(slower.some((d) => d.latencyMs! >= DELAY_MS * 0.95), describe(slower));

    target.server!.faults.reset();
    await phase(
      "coming back",
      () => decisions.slice(slowed).some((d) => d.decision === "released"),
    );
    // Step by step: faster, then released (the limiter back at --max-rate).
    const back = decisions.slice(slowed);
    assert.ok(back.some((d) => d.decision === "faster"), describe(back));
    await running;
    return decisions;
  } finally {
    target.server!.faults.reset();
    await running.catch(() => {});
  }
}

function describe(decisions: BackoffState[]): string {
  return decisions.map((d) =>
    `${d.decision} rate=${d.rate?.toFixed(0)} latency=${d.latencyMs?.toFixed(1)} baseline=${
      d.baselineMs?.toFixed(1)
    }`
  ).join("; ");
}

Deno.test({
  name: "dump --backoff: slows down while the reads are slow, back to --max-rate after",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    const target = await testTarget();
    const dir = await Deno.makeTempDir();
    try {
      const db = target.uniqueDb("bo");
      await seedTable(target, db, 20_000);
      let documents = 0;
      await throughPhases(
        target,
        (query) => containsTerm(query.term, TermType.ORDER_BY),
        async (onDecision) => {
          const summary = await dump({
            connect: { host: target.host, port: target.port, password: target.password },
            file: `${dir}/b.tar.gz`,
            exports: [db],
            clients: 1,
            readBatchRows: 100,
            maxRate: parseRate(`${CEILING}/s`),
            backoff: { tuning: TUNING, onDecision },
            progress: { quiet: true },
          });
          documents = summary.documents;
        },
      );
      assert.equal(documents, 20_000);
    } finally {
      await target.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "restore --backoff: slows down while the inserts are slow, back to --max-rate after",
  ignore: faultsSkipReason !== undefined,
  fn: async () => {
    const target = await testTarget();
    const dir = await Deno.makeTempDir();
    try {
      const db = target.uniqueDb("bo");
      await seedTable(target, db, 20_000);
      const archive = `${dir}/a.tar.gz`;
      await archiveOf(target, db, archive);
      let documents = 0;
      await throughPhases(target, TermType.INSERT, async (onDecision) => {
        const summary = await restore({
          connect: { host: target.host, port: target.port, password: target.password },
          archive,
          renames: [`${db}=${target.uniqueDb("bo")}`],
          clients: 4,
          batchSize: 100,
          maxRate: parseRate(`${CEILING}/s`),
          backoff: { tuning: TUNING, onDecision },
          progress: { quiet: true },
        });
        documents = summary.documents;
      });
      assert.equal(documents, 20_000);
    } finally {
      await target.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
