/**
 * A fixed number of workers taking items from a shared list: how `--clients` tables are
 * exported at once.
 *
 * @module
 */

/**
 * Runs `work` on every item with at most `limit` running at once; worker `w` (0-based) always
 * gets the same `w`, so it can keep state such as a connection. The first failure aborts
 * `controller` (with that error as reason) so the others stop early; the call resolves or
 * rejects only after every running `work` has settled, so nothing runs during cleanup.
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * const sizes = await runPool(["a", "b", "c"], 2, controller, (item, worker) => work(item, worker));
 * ```
 */
export async function runPool<T, R>(
  items: readonly T[],
  limit: number,
  controller: AbortController,
  work: (item: T, worker: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (w: number) => {
    while (!failure && !controller.signal.aborted && next < items.length) {
      const index = next++;
      try {
        results[index] = await work(items[index], w);
      } catch (error) {
        if (!failure) {
          // When the stop came from outside, the abort reason is the error to report.
          failure = { error: controller.signal.aborted ? controller.signal.reason : error };
          controller.abort(failure.error);
        }
        return;
      }
    }
  };
  const workers = Math.max(1, Math.min(limit, items.length));
  await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  if (failure) throw failure.error;
  controller.signal.throwIfAborted();
  return results;
}
