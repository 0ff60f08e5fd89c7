/**
 * Lowering the scheduling priority of the calling thread, for the compression workers: a dump
 * usually runs on the database's own host, and there it should compress with the CPU the
 * server leaves idle. The server reads a table one batch after another, so a core taken by
 * compression when the server wants it delays every later batch; at nice 19 the kernel gives
 * the core back at once. The thread that reads from the server keeps its priority: it asks for
 * each next batch.
 *
 * @module
 */

import { setPriority } from "node:os";

/**
 * Sets the calling thread's nice value to `nice`, on Linux, where `setpriority` on "the calling
 * process" (id 0) sets the calling thread's own priority. Elsewhere it would lower the whole
 * process, so there, and without the permission to set priorities, it does nothing and returns
 * false: it never prompts and never fails. Raising a nice value needs no privilege.
 *
 * @example
 * ```ts
 * import { lowerThreadPriority } from "./thread_priority.ts";
 *
 * // In a worker that does background work:
 * lowerThreadPriority(19); // true on Linux with --allow-sys
 * ```
 */
export function lowerThreadPriority(nice: number): boolean {
  if (Deno.build.os !== "linux") return false;
  if (Deno.permissions.querySync({ name: "sys", kind: "setPriority" }).state !== "granted") {
    return false;
  }
  try {
    setPriority(0, nice);
    return true;
  } catch {
    return false;
  }
}
