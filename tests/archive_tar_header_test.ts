import assert from "node:assert/strict";
import { TAR_END, tarHeader, tarPadding } from "../src/archive/tar_header.ts";

const decoder = new TextDecoder();
const field = (block: Uint8Array, offset: number, width: number) =>
  decoder.decode(block.subarray(offset, offset + width)).replace(/\0.*$/s, "");

function checksumOk(block: Uint8Array): boolean {
  const copy = block.slice();
  copy.fill(0x20, 148, 156);
  return copy.reduce((n, b) => n + b, 0) === parseInt(field(block, 148, 8), 8);
}

Deno.test("tarHeader: a short path is one ustar block", () => {
  const header = tarHeader({
    path: "top/db/t.json",
    size: 1234,
    mtime: new Date(1_700_000_000_000),
  });
  assert.equal(header.length, 512);
  assert.equal(field(header, 0, 100), "top/db/t.json");
  assert.equal(parseInt(field(header, 124, 12), 8), 1234);
  assert.equal(parseInt(field(header, 136, 12), 8), 1_700_000_000);
  assert.equal(field(header, 100, 8), "0000644");
  assert.equal(String.fromCharCode(header[156]), "0");
  assert.equal(field(header, 257, 6), "ustar");
  assert.ok(checksumOk(header));
});

Deno.test("tarHeader: a long path splits into prefix and name; an unsplittable one gets pax", () => {
  const long = `top/${"d".repeat(120)}/${"t".repeat(60)}.json`;
  const split = tarHeader({ path: long, size: 0, mtime: new Date(0) });
  assert.equal(split.length, 512);
  assert.equal(`${field(split, 345, 155)}/${field(split, 0, 100)}`, long);
  const unsplittable = `top/${"t".repeat(150)}.json`;
  const pax = tarHeader({ path: unsplittable, size: 5, mtime: new Date(0) });
  assert.equal(pax.length, 3 * 512);
  assert.equal(String.fromCharCode(pax[156]), "x");
  const record = field(pax, 512, 512);
  assert.equal(record, `${record.length} path=${unsplittable}\n`);
  assert.ok(checksumOk(pax.subarray(0, 512)) && checksumOk(pax.subarray(1024)));
});

Deno.test("tarHeader: sizes of 8 GiB and more get a pax size and a base-256 field", () => {
  const size = 9 * 2 ** 30 + 7;
  const header = tarHeader({ path: "top/db/huge.json", size, mtime: new Date(0) });
  assert.equal(header.length, 3 * 512);
  const record = field(header, 512, 512);
  assert.equal(record, `${record.length} size=${size}\n`);
  assert.equal(record.length, 19);
  const ustar = header.subarray(1024);
  assert.equal(ustar[124], 0x80);
  let value = 0;
  for (let i = 125; i < 136; i++) value = value * 256 + ustar[i];
  assert.equal(value, size);
});

Deno.test("tarPadding and TAR_END", () => {
  assert.deepEqual([0, 1, 511, 512, 513].map(tarPadding), [0, 511, 1, 0, 511]);
  assert.equal(TAR_END.length, 1024);
  assert.ok(TAR_END.every((b) => b === 0));
});
