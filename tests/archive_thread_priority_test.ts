/** `lowerThreadPriority` lowers the calling thread only, as the compression workers need. */
import assert from "node:assert/strict";
import { getPriority } from "node:os";

/** The calling thread's nice value (on Linux, priority 0 is the calling thread's). */
const niceOfThisThread = () => getPriority(0);

Deno.test({
  name: "lowerThreadPriority: a worker's thread goes to nice 19, the main thread keeps its own",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const before = niceOfThisThread();
    const worker = new Worker(new URL("./support/priority_worker.ts", import.meta.url), {
      type: "module",
    });
    try {
      const { lowered, nice } = await new Promise<{ lowered: boolean; nice: number }>(
        (resolve, reject) => {
          worker.onmessage = (event) => resolve(event.data);
          worker.onerror = (event) => reject(new Error(event.message));
        },
      );
      assert.equal(lowered, true);
      assert.equal(nice, 19);
      assert.equal(niceOfThisThread(), before, "the thread that started the worker is untouched");
    } finally {
      worker.terminate();
    }
  },
});

Deno.test({
  name: "lowerThreadPriority: without the permission to set priorities it does nothing",
  ignore: Deno.build.os !== "linux",
  permissions: { read: true, sys: ["getPriority"] },
  fn: async () => {
    const { lowerThreadPriority } = await import("../src/archive/thread_priority.ts");
    const before = niceOfThisThread();
    assert.equal(lowerThreadPriority(19), false);
    assert.equal(niceOfThisThread(), before);
  },
});
