/**
 * What a dump or restore paces itself with: one {@link RateLimiter} for the whole run
 * (`--max-rate`), driven by a {@link BackoffController} when `--backoff` is on, and the note on
 * the progress line when they hold the run back.
 *
 * A dump calls {@link Throttle.settle} then {@link Throttle.take} after handing each batch on,
 * before consuming the next; a restore calls {@link Throttle.take} before sending a batch and
 * {@link Throttle.settle} once it is acknowledged, before its connection takes the next.
 *
 * @module
 */

import {
  BACKOFF_BY_DEFAULT,
  BackoffController,
  type BackoffState,
  type BackoffTuning,
} from "./backoff.ts";
import { type Clock, formatRate, HeldTime, type Rate, RateLimiter, systemClock } from "./rate.ts";

/** `--backoff` with hooks and tuning (tests, and library users tuning against a server). */
export interface BackoffOptions {
  /** Overrides of the tuning constants of `./backoff.ts`. */
  tuning?: Partial<BackoffTuning>;
  /** Told of every decision of the control loop. */
  onDecision?: (state: BackoffState) => void;
}

/** Options of {@link Throttle.create}. */
export interface ThrottleOptions {
  /** `--max-rate`: the ceiling for the whole run. */
  maxRate?: Rate;
  /** `--backoff`: slow down while the server's latency is well above its baseline. */
  backoff?: boolean | BackoffOptions;
  clock?: Clock;
}

/**
 * Share of the progress interval the run must have been held back (waiting on the rate, or
 * pausing) for the progress line to say so: below it, the limit is not what sets the pace.
 */
export const NOTE_SHARE = 0.2;

/**
 * The pacing of one run (see the module documentation).
 *
 * @example
 * ```ts
 * import { parseRate } from "./rate.ts";
 * const throttle = Throttle.create({ maxRate: parseRate("5000/s"), backoff: true })!;
 * // A dump, after handing on a batch of 1000 documents (440 KB) that took 12 ms:
 * await throttle.settle(12, 1000, 440_000);
 * await throttle.take(1000, 440_000);
 * ```
 */
export class Throttle {
  /** The limiter every table of the run draws from. */
  readonly limiter: RateLimiter;
  /** The control loop, with `--backoff`. */
  readonly backoff: BackoffController | undefined;
  /** The ceiling, with `--max-rate`. */
  readonly maxRate: Rate | undefined;
  readonly #clock: Clock;
  /** Time callers waited on the limiter, and paused for the duty cycle. */
  readonly #waited: HeldTime;
  readonly #paused: HeldTime;
  #noteAt: number;
  #noteWaited = 0;
  #notePaused = 0;

  /** A throttle for `options`, or undefined when they ask for no pacing at all. */
  static create(options: ThrottleOptions): Throttle | undefined {
    if (options.maxRate === undefined && !options.backoff) return undefined;
    return new Throttle(options);
  }

  constructor(options: ThrottleOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#waited = new HeldTime(this.#clock);
    this.#paused = new HeldTime(this.#clock);
    this.#noteAt = this.#clock.now();
    this.maxRate = options.maxRate;
    const unit = options.maxRate?.unit ?? "documents";
    const ceiling = options.maxRate?.perSecond;
    this.limiter = new RateLimiter({ unit, perSecond: ceiling, clock: this.#clock });
    if (options.backoff) {
      const extra = options.backoff === true ? {} : options.backoff;
      this.backoff = new BackoffController({
        unit,
        ceiling,
        tuning: extra.tuning,
        clock: this.#clock,
        onDecision: extra.onDecision,
        onRate: (rate) => this.limiter.setRate(rate === undefined ? ceiling : rate),
      });
    }
  }

  /**
   * Waits until `documents` / `bytes` are paid for at the rate. Rejects with `signal`'s reason
   * when it aborts first.
   */
  async take(documents: number, bytes: number, signal?: AbortSignal): Promise<void> {
    const done = this.#waited.begin();
    try {
      await this.limiter.take(documents, bytes, signal);
    } finally {
      done();
    }
  }

  /**
   * Reports a query of the tool's own that just finished (`latencyMs`, the documents and bytes
   * it moved) to `--backoff`, then waits for the duty cycle's pause, if any. Never rejects: an
   * abort ends the pause early.
   */
  async settle(
    latencyMs: number | undefined,
    documents: number,
    bytes: number,
    signal?: AbortSignal,
  ): Promise<void> {
    if (this.backoff === undefined || latencyMs === undefined) return;
    this.backoff.observe(latencyMs, documents, bytes);
    const pause = this.backoff.pauseFor(latencyMs);
    if (!(pause > 0) || signal?.aborted) return;
    const done = this.#paused.begin();
    try {
      await this.#clock.sleep(pause, signal ?? new AbortController().signal);
    } finally {
      done();
    }
  }

  /**
   * The progress line's note when the throttle held the run back for at least
   * {@link NOTE_SHARE} of the time since the last call: `(limited by --max-rate 5000/s)`,
   * `(slowed by --backoff to 1,200 docs/s; server latency 3.1× usual)`, or
   * `(paced by --backoff; server latency 1.6× usual)`.
   */
  note(): string | undefined {
    const now = this.#clock.now();
    const elapsed = now - this.#noteAt;
    if (elapsed <= 0) return undefined;
    const waited = this.#waited.total();
    const paused = this.#paused.total();
    const waitShare = (waited - this.#noteWaited) / elapsed;
    const pauseShare = (paused - this.#notePaused) / elapsed;
    this.#noteAt = now;
    this.#noteWaited = waited;
    this.#notePaused = paused;
    const state = this.backoff?.state;
    const ratio = state?.latencyMs !== undefined && state.baselineMs
      ? `; server latency ${(state.latencyMs / state.baselineMs).toFixed(1)}× usual`
      : "";
    if (waitShare >= NOTE_SHARE) {
      if (state?.rate !== undefined) {
        const rate = formatRate({ perSecond: state.rate, unit: state.unit });
        return `(slowed by --backoff to ${rate}${ratio})`;
      }
      if (this.maxRate) return `(limited by --max-rate ${formatRate(this.maxRate)})`;
    }
    if (pauseShare >= NOTE_SHARE) return `(paced by --backoff${ratio})`;
    return undefined;
  }
}

/** The pacing options of `dump` and `restore`. */
export interface PacingOptions {
  /** `--max-rate`. */
  maxRate?: Rate;
  /** `--backoff`; default {@link BACKOFF_BY_DEFAULT}. */
  backoff?: boolean | BackoffOptions;
  /** A throttle built by the caller (shared by several runs, or watched by a test). */
  throttle?: Throttle;
}

/**
 * The throttle of a run: the caller's, or one built from `maxRate` and `backoff`; undefined
 * when the run goes unpaced.
 *
 * @example
 * ```ts
 * import { parseRate } from "./rate.ts";
 * const throttle = throttleFor({ maxRate: parseRate("20MB/s") });
 * ```
 */
export function throttleFor(options: PacingOptions): Throttle | undefined {
  return options.throttle ??
    Throttle.create({
      maxRate: options.maxRate,
      backoff: options.backoff ?? BACKOFF_BY_DEFAULT,
    });
}
