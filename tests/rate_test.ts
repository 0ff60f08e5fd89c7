/**
 * `--max-rate` and `--backoff` as units, on a fake clock: parsing rates, the token bucket, the
 * backoff control loop and the progress line's note.
 */
import assert from "node:assert/strict";
import { UsageError } from "../src/errors.ts";
import { type BackoffState, DEFAULT_BACKOFF_TUNING } from "../src/throttle/backoff.ts";
import { type Clock, formatRate, parseRate, RateLimiter } from "../src/throttle/rate.ts";
import { Throttle } from "../src/throttle/throttle.ts";
import { Progress } from "../src/progress/progress.ts";

/** A clock that moves only when told to; sleepers wake in time order. */
class FakeClock implements Clock {
  #now = 0;
  #sleepers: { at: number; wake: () => void }[] = [];

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const sleeper = {
        at: this.#now + Math.max(0, ms),
        wake: () => {
          this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
          resolve();
        },
      };
      this.#sleepers.push(sleeper);
      signal.addEventListener("abort", sleeper.wake, { once: true });
    });
  }

  /** Moves time on by `ms` at once, for code that does not sleep. */
  tick(ms: number): void {
    assert.equal(this.#sleepers.length, 0, "tick() is for code that does not sleep");
    this.#now += ms;
  }

  /** Moves time on by `ms`, waking each sleeper at its time and letting it run. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    while (true) {
      await settle();
      const next = [...this.#sleepers].sort((a, b) => a.at - b.at)[0];
      if (next === undefined || next.at > end) break;
      this.#now = Math.max(this.#now, next.at);
      next.wake();
    }
    this.#now = end;
    await settle();
  }
}

/** Lets every pending callback run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Starts `take`s and records when each finished (clock time), by label. */
function recorder(clock: FakeClock) {
  const done = new Map<string, number>();
  return {
    done,
    start(label: string, work: Promise<void>) {
      void work.then(() => done.set(label, clock.now()));
    },
  };
}

Deno.test("parseRate: documents and bytes per second; MB is 10^6, MiB 2^20", () => {
  const cases: [string, number, string][] = [
    ["5000/s", 5000, "documents"],
    ["0.5/s", 0.5, "documents"],
    ["1200docs/s", 1200, "documents"],
    ["100B/s", 100, "bytes"],
    ["512KB/s", 512_000, "bytes"],
    ["20MB/s", 20_000_000, "bytes"],
    ["1GB/s", 1e9, "bytes"],
    ["1.5mb/s", 1_500_000, "bytes"],
    ["512KiB/s", 512 * 1024, "bytes"],
    ["20MiB/s", 20 * 2 ** 20, "bytes"],
    ["1GiB/s", 2 ** 30, "bytes"],
  ];
  for (const [text, perSecond, unit] of cases) {
    assert.deepEqual(parseRate(text), { perSecond, unit, text }, text);
  }
  for (
    const bad of ["", "5000", "5000/m", "20MB", "-5/s", "0/s", "0MB/s", "5 000/s", "1TB/s", "x/s"]
  ) {
    assert.throws(
      () => parseRate(bad),
      (e) =>
        e instanceof UsageError && e.exitCode === 2 && /^--max-rate must /.test(e.message) &&
        !e.message.includes("\n"),
      bad,
    );
  }
  assert.equal(formatRate(parseRate("20MB/s")), "20MB/s");
  assert.equal(formatRate({ perSecond: 1234.4, unit: "documents" }), "1,234 docs/s");
  assert.equal(formatRate({ perSecond: 2_500_000, unit: "bytes" }), "2.5 MB/s");
  assert.equal(formatRate({ perSecond: 800, unit: "bytes" }), "800 B/s");
});

Deno.test("limiter: one caller is paced at the rate, after a burst of a tenth of a second", async () => {
  const clock = new FakeClock();
  const limiter = new RateLimiter({ unit: "documents", perSecond: 5000, clock });
  const times: number[] = [];
  const run = (async () => {
    for (let i = 0; i < 10; i++) {
      await limiter.take(1000, 123_456);
      times.push(clock.now());
    }
  })();
  await clock.advance(5000);
  await run;
  // 500 documents of burst, then 1000 every 200 ms.
  assert.deepEqual(times.map(Math.round), [100, 300, 500, 700, 900, 1100, 1300, 1500, 1700, 1900]);
  assert.equal(limiter.taken, 10_000);
});

Deno.test("limiter: callers share it in the order they asked; bytes count for a bytes rate", async () => {
  const clock = new FakeClock();
  const limiter = new RateLimiter({ unit: "bytes", perSecond: 1_000_000, clock });
  const { done, start } = recorder(clock);
  start("a", limiter.take(1, 100_000)); // within the burst of 100,000 bytes: at once
  start("b", limiter.take(1000, 200_000));
  start("c", limiter.take(1, 100_000));
  await clock.advance(1000);
  assert.deepEqual(Object.fromEntries(done), { a: 0, b: 200, c: 300 });
});

Deno.test("limiter: a rate change applies to callers already waiting; none releases them", async () => {
  const clock = new FakeClock();
  const limiter = new RateLimiter({ unit: "documents", perSecond: 1000, clock });
  const { done, start } = recorder(clock);
  start("slow", limiter.take(1000, 0)); // 100 of burst: 900 ms at 1000/s
  await clock.advance(300);
  limiter.setRate(3000); // 400 granted by now, 600 to go at 3000/s: 200 ms more
  await clock.advance(1000);
  assert.equal(done.get("slow"), 500);

  start("stuck", limiter.take(10_000, 0));
  await clock.advance(100);
  assert.equal(done.has("stuck"), false);
  limiter.setRate(undefined);
  await clock.advance(0);
  assert.equal(done.get("stuck"), 1400);
  // Without a rate nothing waits; a rate set afterwards starts from an empty bucket.
  await limiter.take(1e9, 0);
  limiter.setRate(1000);
  start("after", limiter.take(500, 0));
  await clock.advance(1000);
  assert.equal(done.get("after"), 1900);
});

Deno.test("limiter: idle time is not saved up beyond the burst; an abort rejects", async () => {
  const clock = new FakeClock();
  const limiter = new RateLimiter({ unit: "documents", perSecond: 1000, clock });
  await clock.advance(60_000);
  const { done, start } = recorder(clock);
  start("big", limiter.take(2000, 0));
  await clock.advance(3000);
  assert.equal(done.get("big"), 60_000 + 1900);

  const controller = new AbortController();
  const taking = limiter.take(1000, 0, controller.signal);
  await clock.advance(100);
  controller.abort(new Error("stop"));
  await assert.rejects(taking, /stop/);
});

/** Feeds the controller `count` batches of 1000 documents, `latency` ms each, back to back. */
function feed(clock: FakeClock, throttle: Throttle, count: number, latency: number): void {
  for (let i = 0; i < count; i++) {
    clock.tick(latency);
    throttle.backoff!.observe(latency, 1000, 400_000);
  }
}

Deno.test("backoff: learns the baseline, slows down multiplicatively, comes back to full speed", () => {
  const clock = new FakeClock();
  const decisions: BackoffState[] = [];
  const throttle = new Throttle({ backoff: { onDecision: (s) => decisions.push(s) }, clock });
  const limiter = throttle.limiter;
  // 20 batches of 10 ms: 100,000 documents/s, the baseline 10 ms.
  feed(clock, throttle, 20, 10);
  assert.equal(decisions.length, 1);
  assert.equal(decisions[0].decision, "learned");
  assert.equal(decisions[0].baselineMs, 10);
  assert.equal(Math.round(decisions[0].fullRate!), 100_000);
  assert.equal(limiter.perSecond, undefined, "nothing held back yet");

  // Latency 5× the baseline: each decision (3 batches, 500 ms) slows down to 0.6× what went.
  feed(clock, throttle, 10, 50);
  const slower = decisions.filter((d) => d.decision === "slower");
  assert.ok(slower.length >= 1, JSON.stringify(decisions));
  assert.equal(limiter.perSecond, slower.at(-1)!.rate);
  for (let i = 1; i < slower.length; i++) assert.ok(slower[i].rate! < slower[i - 1].rate!);
  feed(clock, throttle, 200, 50);
  const floor = DEFAULT_BACKOFF_TUNING.minShare * 100_000;
  assert.equal(Math.round(limiter.perSecond!), floor, "never below the floor");

  // Back to the baseline: faster at every decision, then released.
  const before = decisions.length;
  feed(clock, throttle, 400, 10);
  const after = decisions.slice(before).map((d) => d.decision);
  assert.ok(after.includes("faster"), after.join());
  assert.equal(after.filter((d) => d === "released").length, 1, after.join());
  assert.equal(limiter.perSecond, undefined);
  const faster = decisions.slice(before).filter((d) => d.decision === "faster").length;
  assert.ok(faster <= 20, `back to full speed in a bounded number of decisions: ${faster}`);
});

Deno.test("backoff: never above --max-rate; the baseline rises slowly, falls at once", () => {
  const clock = new FakeClock();
  const decisions: BackoffState[] = [];
  const throttle = new Throttle({
    maxRate: parseRate("50000/s"),
    backoff: { onDecision: (s) => decisions.push(s) },
    clock,
  });
  assert.equal(throttle.limiter.perSecond, 50_000);
  feed(clock, throttle, 20, 10);
  feed(clock, throttle, 30, 30);
  assert.ok(throttle.limiter.perSecond! < 50_000);
  feed(clock, throttle, 600, 10);
  assert.equal(decisions.at(-1)!.rate, undefined);
  assert.equal(throttle.limiter.perSecond, 50_000, "back to the ceiling, not above it");

  // Latency 1.5× for a long time: the baseline creeps up by at most 25% a minute.
  const start = clock.now();
  feed(clock, throttle, 600, 15);
  const minutes = (clock.now() - start) / 60_000;
  const baseline = decisions.at(-1)!.baselineMs!;
  assert.ok(baseline > 10 && baseline <= 10 * 1.25 ** minutes + 1e-9, `${baseline}`);
  feed(clock, throttle, 200, 8);
  assert.equal(decisions.at(-1)!.baselineMs, 8);
});

Deno.test("backoff: a latency within MIN_EXCESS_MS of a tiny baseline is not slow", () => {
  const clock = new FakeClock();
  const throttle = new Throttle({ backoff: true, clock });
  feed(clock, throttle, 20, 0.5);
  feed(clock, throttle, 400, 1.5); // 3× the baseline, but 1 ms above it
  assert.equal(throttle.backoff!.state.decision, "hold");
  assert.equal(throttle.limiter.perSecond, undefined);
  assert.equal(throttle.backoff!.pauseFor(1.5), 1.5, "the standing pause only");
  feed(clock, throttle, 250, 5);
  assert.equal(throttle.backoff!.state.decision, "slower");
});

Deno.test("backoff: the duty cycle pauses for a share of each batch's own latency", () => {
  const clock = new FakeClock();
  const throttle = new Throttle({
    backoff: { tuning: { dutyPause: 1, standingPause: 0 } },
    clock,
  });
  const backoff = throttle.backoff!;
  assert.equal(backoff.pauseFor(100), 0, "no pause before the baseline is known");
  feed(clock, throttle, 20, 10);
  assert.equal(backoff.pauseFor(100), 0, "none while the latency is at the baseline");
  // A decision finds the latency 1.65× the baseline: halfway from 1.3× to 2×.
  feed(clock, throttle, 31, 16.5);
  assert.equal(backoff.state.decision, "hold");
  assert.ok(Math.abs(backoff.pauseFor(20) - 10) < 1e-9, `${backoff.pauseFor(20)}`);
  // At 2× and above: the batch's whole latency.
  feed(clock, throttle, 31, 30);
  assert.equal(backoff.state.decision, "slower");
  assert.equal(backoff.pauseFor(30), 30);
  assert.equal(backoff.pauseFor(400), 400);
  // Back near the baseline: no pause.
  feed(clock, throttle, 31, 12);
  assert.equal(backoff.pauseFor(12), 0);
});

Deno.test("backoff: by default every batch is followed by a standing pause, longer while the server struggles", () => {
  const clock = new FakeClock();
  const throttle = new Throttle({ backoff: true, clock });
  const backoff = throttle.backoff!;
  assert.equal(backoff.pauseFor(10), 10, "once the batch's latency, from the start");
  feed(clock, throttle, 20, 10);
  assert.equal(backoff.pauseFor(10), 10, "at the baseline");
  feed(clock, throttle, 31, 30);
  assert.equal(backoff.state.decision, "slower");
  assert.equal(backoff.pauseFor(30), 60, "twice it while the server answers 2× slower");
});

Deno.test("throttle: settle waits for the duty pause; the note says what holds the run back", async () => {
  const clock = new FakeClock();
  const limited = new Throttle({ maxRate: parseRate("1000/s"), clock });
  assert.equal(Throttle.create({}), undefined);
  const taking = limited.take(1000, 0);
  await clock.advance(1000);
  await taking;
  assert.equal(limited.note(), "(limited by --max-rate 1000/s)");
  await clock.advance(1000);
  assert.equal(limited.note(), undefined, "nothing held back in the last interval");

  const paced = new Throttle({ backoff: true, clock });
  feed(clock, paced, 20, 10);
  feed(clock, paced, 31, 40);
  paced.note(); // the note's interval starts here
  const settling = paced.settle(40, 1000, 0);
  let settled = false;
  void settling.then(() => settled = true);
  // At 4× the baseline: the full duty pause, twice the batch's 40 ms.
  await clock.advance(79);
  assert.equal(settled, false);
  await clock.advance(1);
  assert.equal(settled, true);
  assert.equal(paced.note(), "(paced by --backoff; server latency 4.0× usual)");
});

Deno.test("progress: the throttle's note follows the rate on the progress line", () => {
  const progress = new Progress("dump", { write: () => {}, intervalMs: 60_000, tty: false });
  progress.startTable("a.b", 10);
  progress.add("a.b", 5, 50);
  progress.note = () => "(limited by --max-rate 5000/s)";
  const line = progress.line();
  progress.note = () => undefined;
  const plain = progress.line();
  progress.stop();
  assert.match(line, / docs\/s \(limited by --max-rate 5000\/s\) \| tables 0\/1/);
  assert.match(plain, / docs\/s \| tables 0\/1/);
});
