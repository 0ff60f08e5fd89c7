/**
 * `--backoff`: watches the latency of the tool's own queries (a dump's per-batch round trip, a
 * restore's insert per batch) against what the server showed at the start of the run (the
 * baseline), slows the run down while the server answers well above it, and speeds it up again
 * once it answers near it. It sets the rate of the same limiter as `--max-rate` (never above
 * that ceiling), and adds a duty cycle: after a slow batch, its connection pauses for a share of
 * that batch's own latency, so that the server gets idle time between the tool's queries for
 * the application's.
 *
 * Every constant of the loop is a named export below, with what it does; the README's
 * "Gentle on a production cluster" section explains the loop.
 *
 * @module
 */

import { type Clock, type RateUnit, systemClock } from "./rate.ts";

// ---- Tuning: every constant of the control loop, in one place ----

/** Whether `--backoff` is on when neither `--backoff` nor `--no-backoff` is given. */
export const BACKOFF_BY_DEFAULT = false;

/**
 * Batches the first baseline is learned from. Until then the run goes at full speed (or at
 * `--max-rate`): these are what the server's latency looks like with the tool at work.
 */
export const BASELINE_SAMPLES = 20;

/**
 * The baseline is this quantile of the latencies it is learned from: low, so that it is what
 * the server does when not busy with anything else, but not the minimum, which one lucky batch
 * (a small one, or one served from cache) would set.
 */
export const BASELINE_QUANTILE = 0.2;

/** After the first, the baseline is re-learned from the latencies of this many latest batches. */
export const BASELINE_WINDOW = 200;

/**
 * The re-learned baseline follows lower latencies at once, and higher ones by at most this
 * factor per minute: a lasting change in what a batch costs (larger documents in a later
 * table) is accepted in a few minutes, while a busy spell of the cluster is not mistaken for
 * the new normal.
 */
export const BASELINE_RISE_PER_MINUTE = 1.25;

/**
 * Batches a decision needs at least. It looks at the same low quantile of their latencies
 * ({@link BASELINE_QUANTILE}) as the baseline, like with like: a slow batch or two among fast
 * ones do not count (nor does the spread of a healthy server's latencies), a server slow for
 * every batch does.
 */
export const DECISION_SAMPLES = 3;

/** Milliseconds between decisions at least, so that each sees the effect of the last. */
export const DECISION_INTERVAL_MS = 500;

/** Slow down when a decision's latency is at least this many times the baseline. */
export const SLOW_DOWN_RATIO = 2;

/** Speed up when it is at most this many times the baseline; in between, hold the rate. */
export const SPEED_UP_RATIO = 1.3;

/**
 * A latency less than this many milliseconds above the baseline counts as at the baseline,
 * whatever the ratio: with a baseline under a millisecond (a server on the same host, small
 * batches), a garbage collection or a busy scheduler doubles it without the server struggling.
 */
export const MIN_EXCESS_MS = 2;

/**
 * Slowing down sets the rate to this share of what actually went through in the last decision's
 * window (or of the rate, if lower): multiplicative, so that a struggling server is relieved in
 * a few decisions.
 */
export const DECREASE_FACTOR = 0.6;

/** Speeding up multiplies the rate by this ... */
export const INCREASE_FACTOR = 1.2;

/**
 * ... and adds this share of the full rate (what went through before any slowing down), so that
 * the way back from a low rate takes a bounded number of decisions. Once the rate reaches the
 * full rate (or `--max-rate`), backoff stops holding the run back.
 */
export const INCREASE_STEP = 0.05;

/** Never slower than this share of the full rate: a backup must still end. */
export const MIN_SHARE = 0.05;

/**
 * Duty cycle: while the last decision's latency is above {@link SPEED_UP_RATIO} times the
 * baseline, each connection pauses after each batch for up to this many times that batch's own
 * latency, in proportion to how far the decision's latency is towards {@link SLOW_DOWN_RATIO}
 * (the full pause from there on). 1 leaves the server idle, between the batches of each
 * connection, at least as long as it spent on them. It acts from the next batch on, where the
 * rate acts only as fast as decisions come.
 */
export const DUTY_PAUSE = 2;

/**
 * The standing duty cycle: with `--backoff`, each connection always pauses after each batch for
 * this many times the batch's own latency, whatever the decisions. A dump on an otherwise quiet
 * cluster is what loads it, and its own latency cannot show what it costs others; measured on a
 * real 2.4.4 server with a live client doing point reads (README, Performance), a pause of once
 * the round trip with {@link GENTLE_BATCH_BYTES} batches brought the client's p99 from 11.6 ms
 * to the official dump's, at 1.4× the dump's time.
 */
export const STANDING_PAUSE = 1;

/**
 * With `--backoff`, a dump asks for batches of at most this many bytes (`max_batch_bytes`; the
 * server's default is 1 MB): the server produces a batch in one go, and a live query that
 * arrives meanwhile waits for it, so smaller batches mean shorter waits.
 */
export const GENTLE_BATCH_BYTES = 64 * 1024;

/** The constants above, as one object (the controller's defaults; tests override some). */
export interface BackoffTuning {
  baselineSamples: number;
  baselineQuantile: number;
  baselineWindow: number;
  baselineRisePerMinute: number;
  decisionSamples: number;
  decisionIntervalMs: number;
  slowDownRatio: number;
  speedUpRatio: number;
  minExcessMs: number;
  decreaseFactor: number;
  increaseFactor: number;
  increaseStep: number;
  minShare: number;
  dutyPause: number;
  standingPause: number;
}

/** The default tuning: the named constants above. */
export const DEFAULT_BACKOFF_TUNING: Readonly<BackoffTuning> = Object.freeze({
  baselineSamples: BASELINE_SAMPLES,
  baselineQuantile: BASELINE_QUANTILE,
  baselineWindow: BASELINE_WINDOW,
  baselineRisePerMinute: BASELINE_RISE_PER_MINUTE,
  decisionSamples: DECISION_SAMPLES,
  decisionIntervalMs: DECISION_INTERVAL_MS,
  slowDownRatio: SLOW_DOWN_RATIO,
  speedUpRatio: SPEED_UP_RATIO,
  minExcessMs: MIN_EXCESS_MS,
  decreaseFactor: DECREASE_FACTOR,
  increaseFactor: INCREASE_FACTOR,
  increaseStep: INCREASE_STEP,
  minShare: MIN_SHARE,
  dutyPause: DUTY_PAUSE,
  standingPause: STANDING_PAUSE,
});

/**
 * What a decision did: `learned` the first baseline, `slower`, `faster`, `released` (stopped
 * holding the run back), or `hold`.
 */
export type BackoffDecision = "learned" | "slower" | "faster" | "released" | "hold";

/** The controller as of its last decision (a read-only view for progress and tests). */
export interface BackoffState {
  readonly decision: BackoffDecision | undefined;
  /** Clock time of the decision (ms). */
  readonly at: number;
  /** The rate backoff holds the run to, per second in {@link unit}; undefined when it does not. */
  readonly rate: number | undefined;
  readonly unit: RateUnit;
  /** The baseline latency (ms); undefined while being learned. */
  readonly baselineMs: number | undefined;
  /** The decision's latency (ms): the {@link BASELINE_QUANTILE} of its batches' latencies. */
  readonly latencyMs: number | undefined;
  /** What went through in the decision's window, per second in {@link unit}. */
  readonly throughput: number | undefined;
  /** What went through while backoff held nothing back, per second; undefined until known. */
  readonly fullRate: number | undefined;
}

/** Options of a {@link BackoffController}. */
export interface BackoffControllerOptions {
  /** What the rate counts. */
  unit: RateUnit;
  /** `--max-rate`, in {@link unit}: backoff never goes above it. */
  ceiling?: number;
  /** Overrides of {@link DEFAULT_BACKOFF_TUNING}. */
  tuning?: Partial<BackoffTuning>;
  clock?: Clock;
  /** Told of the rate to hold the run to (undefined: none) each time it changes. */
  onRate?: (perSecond: number | undefined) => void;
  /** Told of every decision. */
  onDecision?: (state: BackoffState) => void;
}

/**
 * The control loop (see the module documentation): {@link observe} each batch's latency,
 * {@link pauseFor} the duty cycle's pause after it; the rate goes to `onRate`.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "./rate.ts";
 * const limiter = new RateLimiter({ unit: "documents" });
 * const backoff = new BackoffController({
 *   unit: "documents",
 *   onRate: (rate) => limiter.setRate(rate),
 * });
 * // After each batch of 1000 documents that took 12 ms:
 * backoff.observe(12, 1000, 440_000);
 * const pauseMs = backoff.pauseFor(12);
 * ```
 */
export class BackoffController {
  readonly #tuning: BackoffTuning;
  readonly #clock: Clock;
  readonly #options: BackoffControllerOptions;
  /** Latencies of the latest batches, for the baseline. */
  readonly #recent: number[] = [];
  /** Latencies of the batches since the last decision. */
  #window: number[] = [];
  #windowStart: number | undefined;
  #windowAmount = 0;
  #baseline: number | undefined;
  #baselineAt = 0;
  /** The last decision's latency over the baseline: the duty cycle's measure. */
  #ratio = 1;
  #state: BackoffState;

  constructor(options: BackoffControllerOptions) {
    this.#options = options;
    this.#tuning = { ...DEFAULT_BACKOFF_TUNING, ...options.tuning };
    this.#clock = options.clock ?? systemClock;
    this.#state = {
      decision: undefined,
      at: this.#clock.now(),
      rate: undefined,
      unit: options.unit,
      baselineMs: undefined,
      latencyMs: undefined,
      throughput: undefined,
      fullRate: undefined,
    };
  }

  /** The controller as of its last decision. */
  get state(): BackoffState {
    return this.#state;
  }

  /**
   * Reports one of the tool's own queries: its latency (ms), just finished, and the documents
   * and bytes it moved.
   */
  observe(latencyMs: number, documents: number, bytes: number): void {
    if (!(latencyMs >= 0)) return;
    const now = this.#clock.now();
    // The first window starts when its first query did.
    this.#windowStart ??= now - latencyMs;
    this.#windowAmount += this.#options.unit === "documents" ? documents : bytes;
    this.#window.push(latencyMs);
    this.#recent.push(latencyMs);
    if (this.#recent.length > this.#tuning.baselineWindow) this.#recent.shift();
    const t = this.#tuning;
    if (this.#baseline === undefined) {
      if (this.#recent.length >= t.baselineSamples) this.#decide(now);
      return;
    }
    if (
      this.#window.length >= t.decisionSamples && now - this.#windowStart >= t.decisionIntervalMs
    ) {
      this.#decide(now);
    }
  }

  /**
   * The duty cycle's pause (ms) for the connection of a batch that took `latencyMs`: the
   * standing pause while the last decision found the latency near the baseline (or before the
   * baseline is known), up to the full duty pause as it rises towards the slow-down ratio.
   */
  pauseFor(latencyMs: number): number {
    if (!(latencyMs > 0)) return 0;
    const t = this.#tuning;
    const share = Math.min(
      1,
      Math.max(0, (this.#ratio - t.speedUpRatio) / (t.slowDownRatio - t.speedUpRatio)),
    );
    return latencyMs * Math.max(t.standingPause, t.dutyPause * share);
  }

  #decide(now: number): void {
    const t = this.#tuning;
    const seconds = Math.max(1e-3, (now - this.#windowStart!) / 1000);
    const throughput = this.#windowAmount / seconds;
    const latency = quantile(this.#window, t.baselineQuantile);
    let decision: BackoffDecision;
    let rate = this.#state.rate;
    let fullRate = this.#state.fullRate;
    if (this.#baseline === undefined) {
      this.#baseline = quantile(this.#recent, t.baselineQuantile);
      this.#baselineAt = now;
      decision = "learned";
      fullRate = throughput;
    } else {
      this.#relearnBaseline(now);
      const near = latency - this.#baseline < t.minExcessMs;
      const ratio = this.#ratio = near ? 1 : latency / this.#baseline;
      // Full speed is measured while nothing holds the run back and the server answers well.
      if (rate === undefined && ratio < t.slowDownRatio) fullRate = throughput;
      const full = fullRate ?? throughput;
      if (ratio >= t.slowDownRatio) {
        // From what actually went through: a rate above it would not slow anything down.
        const from = Math.min(rate ?? Infinity, throughput);
        rate = Math.max(t.minShare * full, from * t.decreaseFactor);
        decision = "slower";
      } else if (ratio <= t.speedUpRatio && rate !== undefined) {
        rate = rate * t.increaseFactor + t.increaseStep * full;
        const top = this.#options.ceiling ?? full;
        if (rate >= top) {
          rate = undefined;
          decision = "released";
        } else decision = "faster";
      } else decision = "hold";
    }
    const changed = rate !== this.#state.rate;
    this.#state = {
      decision,
      at: now,
      rate,
      unit: this.#options.unit,
      baselineMs: this.#baseline,
      latencyMs: latency,
      throughput,
      fullRate,
    };
    this.#window = [];
    this.#windowAmount = 0;
    this.#windowStart = now;
    if (changed) this.#options.onRate?.(rate);
    this.#options.onDecision?.(this.#state);
  }

  #relearnBaseline(now: number): void {
    const t = this.#tuning;
    const candidate = quantile(this.#recent, t.baselineQuantile);
    const baseline = this.#baseline!;
    const ceiling = baseline * t.baselineRisePerMinute ** ((now - this.#baselineAt) / 60_000);
    this.#baseline = Math.min(candidate, ceiling);
    this.#baselineAt = now;
  }
}

/** The `q` quantile of `values` (not empty), by the nearest rank. */
function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
