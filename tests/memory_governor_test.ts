import assert from "node:assert/strict";
import { collectGarbage, MemoryGovernor } from "../src/memory/governor.ts";

Deno.test("collectGarbage: V8's collector can be forced here", () => {
  assert.equal(collectGarbage(), true);
});

Deno.test("MemoryGovernor: forces a collection once garbage outgrows its budget, and stops", async () => {
  const governor = MemoryGovernor.start({ budgetBytes: 1024 * 1024, intervalMs: 5 });
  try {
    assert.equal(governor.active, true);
    // Dead buffers, as a long read leaves them: 40 MB of them, a few at a time.
    for (let round = 0; round < 40 && governor.collections === 0; round++) {
      for (let i = 0; i < 16; i++) new Uint8Array(64 * 1024).fill(round);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(governor.collections > 0, "no collection was forced");
    assert.ok(governor.pauseMs >= 0);
  } finally {
    governor.stop();
  }
  assert.equal(governor.active, false);
  const after = governor.collections;
  for (let i = 0; i < 64; i++) new Uint8Array(64 * 1024).fill(1);
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(governor.collections, after);
});
