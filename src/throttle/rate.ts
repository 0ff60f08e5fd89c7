/**
 * `--max-rate`: a rate as written on the command line (`5000/s`, `20MB/s`, `512KiB/s`), and the
 * one token bucket that every table of a run draws from, so that the ceiling holds for the run
 * however many tables are in flight.
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** What a rate counts: documents, or bytes of their JSON. */
export type RateUnit = "documents" | "bytes";

/** A rate per second, as {@link parseRate} reads it. */
export interface Rate {
  /** Documents or bytes per second; more than 0. */
  readonly perSecond: number;
  readonly unit: RateUnit;
  /** As written (`20MB/s`), for messages; {@link formatRate} when absent. */
  readonly text?: string;
}

/**
 * Byte units. `KB`, `MB`, `GB` are decimal (10^3, 10^6, 10^9), as rates of disks and networks
 * are quoted; `KiB`, `MiB`, `GiB` are binary (2^10, 2^20, 2^30), as the progress line's sizes.
 */
const BYTE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
};

const RATE_PATTERN = /^(\d+(?:\.\d+)?|\.\d+)(docs?|documents?|[kmg]i?b|b)?\/s$/i;

/**
 * Reads a `--max-rate` value: documents per second (`5000/s`, also `5000docs/s`) or bytes per
 * second (`100B/s`, `512KB/s`, `20MB/s`, `1GB/s` in powers of 10; `512KiB/s`, `20MiB/s`,
 * `1GiB/s` in powers of 2). Throws a one-line {@link UsageError} for anything else, or 0.
 *
 * @example
 * ```ts
 * parseRate("5000/s"); // { perSecond: 5000, unit: "documents", text: "5000/s" }
 * parseRate("20MB/s"); // { perSecond: 20_000_000, unit: "bytes", text: "20MB/s" }
 * parseRate("1MiB/s"); // { perSecond: 1_048_576, unit: "bytes", text: "1MiB/s" }
 * ```
 */
export function parseRate(text: string): Rate {
  const match = RATE_PATTERN.exec(text.trim());
  if (!match) {
    throw new UsageError(
      `--max-rate must be documents or bytes per second, such as 5000/s, 20MB/s or 512KiB/s, got \`${text}\``,
    );
  }
  const unit = match[2]?.toLowerCase();
  const bytes = unit === undefined || unit.startsWith("doc") ? undefined : BYTE_UNITS[unit];
  const perSecond = Number(match[1]) * (bytes ?? 1);
  if (!(perSecond > 0) || !Number.isFinite(perSecond)) {
    throw new UsageError(`--max-rate must be more than 0, got \`${text}\``);
  }
  return { perSecond, unit: bytes === undefined ? "documents" : "bytes", text: text.trim() };
}

/**
 * A rate for messages: as written when known, otherwise `1,200 docs/s` or `2.5 MB/s`.
 *
 * @example
 * ```ts
 * formatRate({ perSecond: 1200, unit: "documents" }); // "1,200 docs/s"
 * formatRate({ perSecond: 2_500_000, unit: "bytes" }); // "2.5 MB/s"
 * ```
 */
export function formatRate(rate: Rate): string {
  if (rate.text !== undefined) return rate.text;
  if (rate.unit === "documents") {
    return `${Math.round(rate.perSecond).toLocaleString("en-US")} docs/s`;
  }
  const units = ["B", "KB", "MB", "GB"];
  let value = rate.perSecond;
  let i = 0;
  while (value >= 1000 && i < units.length - 1) {
    value /= 1000;
    i++;
  }
  return `${i === 0 ? Math.round(value) : value.toFixed(1)} ${units[i]}/s`;
}

/** Time as the limiter sees it: real by default, a fake one in tests. */
export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts (it never rejects). */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/**
 * `performance.now()` and `setTimeout`.
 *
 * @example
 * ```ts
 * await systemClock.sleep(10, new AbortController().signal);
 * ```
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal.addEventListener("abort", done, { once: true });
    }),
};

/**
 * Seconds of the rate the bucket holds when full: a short burst, so that a run that was idle
 * (between tables, or waiting for the server) does not then send a long way above the rate,
 * and yet one batch goes at once at the start.
 */
export const BURST_SECONDS = 0.1;

/** Options of a {@link RateLimiter}. */
export interface RateLimiterOptions {
  unit: RateUnit;
  /** Documents or bytes per second; absent for no limit (until {@link RateLimiter.setRate}). */
  perSecond?: number;
  /** Seconds of the rate the bucket holds when full; default {@link BURST_SECONDS}. */
  burstSeconds?: number;
  clock?: Clock;
}

/**
 * A token bucket shared by every caller of a run. {@link take} returns once what it asked for
 * is paid: the bucket lends nothing ahead, so a caller that takes after each batch has waited
 * for that batch, and the run never goes above the rate (plus a {@link BURST_SECONDS} burst).
 * Callers are served in the order they asked. The rate can change at any time
 * ({@link setRate}, which `--backoff` uses); callers already waiting then wait by the new rate.
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter({ unit: "documents", perSecond: 5000 });
 * for (const batch of [1000, 1000, 1000]) {
 *   // ... hand the batch on, then:
 *   await limiter.take(batch, 0); // about 0.2 s each
 * }
 * ```
 */
export class RateLimiter {
  readonly unit: RateUnit;
  readonly #burstSeconds: number;
  readonly #clock: Clock;
  #perSecond: number | undefined;
  /** Everything asked for so far. */
  #taken = 0;
  /** Everything the bucket has granted so far: its refills, plus a full bucket at the start. */
  #granted: number;
  /** When {@link #granted} was brought up to date. */
  #at: number;
  /** Wakes each waiting caller when the rate changes, to wait by the new one. */
  readonly #waiters = new Set<AbortController>();

  constructor(options: RateLimiterOptions) {
    this.unit = options.unit;
    this.#burstSeconds = options.burstSeconds ?? BURST_SECONDS;
    this.#clock = options.clock ?? systemClock;
    this.#perSecond = options.perSecond;
    this.#at = this.#clock.now();
    this.#granted = this.#burst();
  }

  /** The current rate per second, or undefined for none. */
  get perSecond(): number | undefined {
    return this.#perSecond;
  }

  /** Documents or bytes taken so far (in {@link unit}). */
  get taken(): number {
    return this.#taken;
  }

  /** Changes the rate (undefined: no limit); callers already waiting wait by the new one. */
  setRate(perSecond: number | undefined): void {
    if (perSecond === this.#perSecond) return;
    this.#refill();
    // A rate that starts after none starts with an empty bucket and no debt.
    if (this.#perSecond === undefined) this.#granted = this.#taken;
    this.#perSecond = perSecond;
    for (const waiter of this.#waiters) waiter.abort();
  }

  /**
   * Takes `documents` or `bytes` (whichever the limiter counts) and returns once they are paid
   * for at the rate. Rejects with `signal`'s reason when it aborts first.
   */
  async take(documents: number, bytes: number, signal?: AbortSignal): Promise<void> {
    const amount = this.unit === "documents" ? documents : bytes;
    if (!(amount > 0)) return;
    this.#refill();
    const mark = (this.#taken += amount);
    // No limit: granted at once (a rate set later starts from here).
    if (this.#perSecond === undefined) this.#granted = mark;
    while (this.#granted < mark) {
      signal?.throwIfAborted();
      const wake = new AbortController();
      const onAbort = () => wake.abort();
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.add(wake);
      try {
        await this.#clock.sleep(((mark - this.#granted) / this.#perSecond!) * 1000, wake.signal);
      } finally {
        this.#waiters.delete(wake);
        signal?.removeEventListener("abort", onAbort);
      }
      this.#refill();
    }
    signal?.throwIfAborted();
  }

  #burst(): number {
    return this.#perSecond === undefined ? 0 : this.#perSecond * this.#burstSeconds;
  }

  #refill(): void {
    const now = this.#clock.now();
    if (this.#perSecond === undefined) {
      // No limit: everything asked for is granted at once.
      this.#granted = Math.max(this.#granted, this.#taken);
    } else {
      const refilled = this.#granted + ((now - this.#at) * this.#perSecond) / 1000;
      // A full bucket holds one burst beyond what was taken; idle time is not saved up.
      this.#granted = Math.max(this.#granted, Math.min(refilled, this.#taken + this.#burst()));
    }
    this.#at = now;
  }
}

/**
 * Time during which at least one caller was held (waiting on the limit or pausing), however
 * many at once: the progress line's "held back" share.
 *
 * @example
 * ```ts
 * const held = new HeldTime();
 * const done = held.begin();
 * // ... wait ...
 * done();
 * console.log(held.total());
 * ```
 */
export class HeldTime {
  readonly #clock: Clock;
  #holding = 0;
  #since = 0;
  #total = 0;

  constructor(clock: Clock = systemClock) {
    this.#clock = clock;
  }

  /** A caller starts being held; call the function returned when it is no longer. */
  begin(): () => void {
    if (this.#holding++ === 0) this.#since = this.#clock.now();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (--this.#holding === 0) this.#total += this.#clock.now() - this.#since;
    };
  }

  /** Milliseconds held so far, the current stretch included. */
  total(): number {
    return this.#total + (this.#holding > 0 ? this.#clock.now() - this.#since : 0);
  }
}
