/**
 * Keeps the garbage a long run leaves for the collector to a budget.
 *
 * V8 collects a small heap late: it lets dead objects and dead `ArrayBuffer`s (whose memory is
 * outside the heap, counted as "external") pile up to tens of megabytes before a full
 * collection, and peak RSS is what piled up, not what is alive. A restore of 1,000 small tables
 * kept some 14 MB alive and peaked at 126–129 MB RSS; with a collection forced whenever the heap
 * and external memory had grown 8 MB past what the last one left, at 89 MB; with 4 MB, 81 MB, for
 * 1.2 s of collections over the 62 s run.
 *
 * Forcing one needs V8's `gc()`, which only a context created after `--expose-gc` is set has:
 * the flag is set at run time with `node:v8` and the function taken from a fresh `node:vm`
 * context (a long-standing Node idiom; it works in workers too). Where that fails, nothing is
 * forced and the run goes on as before.
 *
 * @module
 */

import v8 from "node:v8";
import vm from "node:vm";

/** Growth of heap plus external memory past the last collection's floor that forces one. */
export const GARBAGE_BUDGET_BYTES = 4 * 1024 * 1024;

/**
 * The budget of a pass that only reads an archive (`verify`, `list`): bound by CPU, not by a
 * server, so collections cost its wall time directly.
 */
export const READ_GARBAGE_BUDGET_BYTES = 16 * 1024 * 1024;

/** How often the growth is looked at, in milliseconds. */
export const CHECK_INTERVAL_MS = 100;

type Collect = () => void;

let collect: Collect | null | undefined;

/** V8's `gc()`, or null where it cannot be had. */
function collector(): Collect | null {
  if (collect !== undefined) return collect;
  let found: Collect | null = null;
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc");
    if (typeof gc === "function") found = gc;
  } catch {
    // No gc() here: nothing is forced.
  }
  return collect = found;
}

/**
 * Forces a full collection of this isolate now; returns false where that cannot be done.
 *
 * @example
 * ```ts
 * // After many zlib calls, whose native state only a collection frees:
 * collectGarbage();
 * ```
 */
export function collectGarbage(): boolean {
  const gc = collector();
  gc?.();
  return gc !== null;
}

function inUse(): number {
  const { heapUsed, external } = Deno.memoryUsage();
  return heapUsed + external;
}

/**
 * Forces a full collection whenever the heap and external memory have grown more than
 * `budgetBytes` past what the last one left. Stop it with {@link MemoryGovernor.stop}; it never
 * keeps the process alive.
 *
 * @example
 * ```ts
 * const governor = MemoryGovernor.start();
 * try {
 *   // … a run that makes much short-lived garbage …
 * } finally {
 *   governor.stop();
 *   console.log(`${governor.collections} collections in ${governor.pauseMs} ms`);
 * }
 * ```
 */
export class MemoryGovernor {
  /** Collections forced so far. */
  collections = 0;
  /** Milliseconds spent in them. */
  pauseMs = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #floor = inUse();

  private constructor(gc: Collect | null, budgetBytes: number, intervalMs: number) {
    if (!gc) return;
    const timer = this.#timer = setInterval(() => {
      if (inUse() - this.#floor <= budgetBytes) return;
      const started = performance.now();
      gc();
      this.pauseMs += performance.now() - started;
      this.collections++;
      this.#floor = inUse();
    }, intervalMs);
    Deno.unrefTimer(timer);
  }

  /** Starts governing (a governor that does nothing where `gc()` cannot be had). */
  static start(options: { budgetBytes?: number; intervalMs?: number } = {}): MemoryGovernor {
    return new MemoryGovernor(
      collector(),
      options.budgetBytes ?? GARBAGE_BUDGET_BYTES,
      options.intervalMs ?? CHECK_INTERVAL_MS,
    );
  }

  /** Whether collections can be forced here. */
  get active(): boolean {
    return this.#timer !== undefined;
  }

  /** Stops governing; safe to call twice. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
