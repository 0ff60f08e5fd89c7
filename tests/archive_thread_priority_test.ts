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

/** The nice values of this process's threads, from /proc (Linux). */
async function threadNices(): Promise<number[]> {
  const nices: number[] = [];
  for await (const task of Deno.readDir("/proc/self/task")) {
    const stat = await Deno.readTextFile(`/proc/self/task/${task.name}/stat`).catch(() => "");
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields.length > 16) nices.push(Number(fields[16]));
  }
  return nices;
}

Deno.test({
  name: "DeflatePool: workers take the nice value they are given, and keep the caller's without",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const { DeflatePool } = await import("../src/archive/deflate_pool.ts");
    const compress = async (pool: InstanceType<typeof DeflatePool>) => {
      const stream = pool.open({ output: () => {} });
      await stream.write(new TextEncoder().encode("[\n]\n"));
      await stream.finish();
    };
    const before = niceOfThisThread();
    const plain = new DeflatePool({ level: 1 });
    try {
      await compress(plain);
      assert.ok(!(await threadNices()).includes(13));
    } finally {
      plain.close();
    }
    const gentle = new DeflatePool({ level: 1, nice: 13 });
    try {
      await compress(gentle);
      assert.ok((await threadNices()).includes(13), "a compression thread at nice 13");
      assert.equal(niceOfThisThread(), before, "the caller's thread is untouched");
    } finally {
      gentle.close();
    }
  },
});
