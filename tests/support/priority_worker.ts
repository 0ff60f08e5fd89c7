/** Test worker: lowers its own priority and reports the result and its nice value after. */
import { getPriority } from "node:os";
import { lowerThreadPriority } from "../../src/archive/thread_priority.ts";

const lowered = lowerThreadPriority(19);
// On Linux, priority 0 is the calling thread's.
(globalThis as unknown as Worker).postMessage({ lowered, nice: getPriority(0) });
