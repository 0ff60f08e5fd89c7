/**
 * The tab-indented datum printer RethinkDB uses inside error messages, e.g. the two documents in
 * `Duplicate primary key `uid`:\n{\n\t"a":\t[\n\t\t1, ...`. Reproduced from the recorded
 * transcripts: objects and arrays open a new line per element, a key is followed by `:\t`.
 *
 * @module
 */

import { type Datum, isObject } from "./datum.ts";

/**
 * Prints a datum the way RethinkDB's error messages do. Empty arrays and objects print as `[]` and
 * `{}` (not visible in the recordings; an assumption).
 */
export function prettyDatum(value: Datum, depth = 0): string {
  const inner = "\t".repeat(depth + 1);
  const outer = "\t".repeat(depth);
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    const items = value.map((item) => inner + prettyDatum(item, depth + 1));
    return `[\n${items.join(",\n")}\n${outer}]`;
  }
  if (isObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) return "{}";
    const items = keys.map((key) =>
      `${inner}${JSON.stringify(key)}:\t${prettyDatum(value[key], depth + 1)}`
    );
    return `{\n${items.join(",\n")}\n${outer}}`;
  }
  return JSON.stringify(value);
}
