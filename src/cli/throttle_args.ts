/**
 * `--max-rate`, `--backoff` and `--no-backoff`, shared by `dump` and `restore`.
 *
 * @module
 */

import { BACKOFF_BY_DEFAULT } from "../throttle/backoff.ts";
import { parseRate, type Rate } from "../throttle/rate.ts";
import type { OptionSpec, ParsedValues } from "./args.ts";

/** The pacing options of both commands. */
export const THROTTLE_OPTIONS = {
  "max-rate": { type: "string" },
  backoff: { type: "boolean" },
  "no-backoff": { type: "boolean" },
} as const satisfies OptionSpec;

/** Help text for {@link THROTTLE_OPTIONS}, in a command's option list. */
export const THROTTLE_HELP =
  `      --max-rate RATE       at most RATE for the whole run, however many tables at once:
                            documents (5000/s) or bytes of JSON (20MB/s, 512KB/s, 1GB/s;
                            MB is 10^6 bytes, MiB 2^20)
      --backoff, --no-backoff
                            slow down while the server answers well above its usual
                            latency, speed up again after (default ${
    BACKOFF_BY_DEFAULT ? "on" : "off"
  })`;

/**
 * Reads the pacing options, each only when given (the library's defaults apply otherwise);
 * `args` (the command's arguments) decide between `--backoff` and `--no-backoff` when both are
 * given: the last one wins. A bad `--max-rate` is a usage error.
 *
 * @example
 * ```ts
 * throttleArgs({ "max-rate": "20MB/s", backoff: true }, ["--max-rate", "20MB/s", "--backoff"]);
 * // { maxRate: { perSecond: 20_000_000, unit: "bytes", text: "20MB/s" }, backoff: true }
 * ```
 */
export function throttleArgs(
  values: ParsedValues,
  args: readonly string[],
): { maxRate?: Rate; backoff?: boolean } {
  const options: { maxRate?: Rate; backoff?: boolean } = {};
  const raw = values["max-rate"];
  if (raw !== undefined) options.maxRate = parseRate(String(raw));
  const on = values.backoff === true;
  const off = values["no-backoff"] === true;
  if (on && off) {
    options.backoff = args.lastIndexOf("--backoff") > args.lastIndexOf("--no-backoff");
  } else if (on || off) options.backoff = on;
  return options;
}
