import assert from "node:assert/strict";
import { formatAddress, parseAddress } from "../src/connection/address.ts";
import { UsageError } from "../src/errors.ts";

Deno.test("parseAddress: host, host:port, [v6]:port and defaults", () => {
  assert.deepEqual(parseAddress(""), { host: "localhost", port: 28015 });
  assert.deepEqual(parseAddress("db1"), { host: "db1", port: 28015 });
  assert.deepEqual(parseAddress("db1:28016"), { host: "db1", port: 28016 });
  assert.deepEqual(parseAddress("10.0.0.5:1"), { host: "10.0.0.5", port: 1 });
  assert.deepEqual(parseAddress("[::1]:28020"), { host: "::1", port: 28020 });
  assert.deepEqual(parseAddress("[fe80::1]"), { host: "fe80::1", port: 28015 });
  assert.deepEqual(parseAddress("::1"), { host: "::1", port: 28015 });
});

Deno.test("parseAddress: bad values are one-line usage errors naming the value", () => {
  for (const bad of ["db1:", "db1:abc", "db1:0", "db1:70000", "[::1", "[::1]x", ":28015", "[]:1"]) {
    assert.throws(() => parseAddress(bad), (error: unknown) => {
      assert.ok(error instanceof UsageError, bad);
      assert.match(error.message, /invalid --connect value/);
      assert.ok(!error.message.includes("\n"));
      return true;
    });
  }
});

Deno.test("formatAddress brackets IPv6 hosts", () => {
  assert.equal(formatAddress({ host: "::1", port: 28015 }), "[::1]:28015");
  assert.equal(formatAddress({ host: "db1", port: 1 }), "db1:1");
});
