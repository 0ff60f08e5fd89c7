/**
 * `changes`: a changefeed on a whole user table, `r.table(...).changes(optargs)`, with RethinkDB
 * 2.4.4's optional arguments (`squash`, `changefeed_queue_size`, `include_initial`,
 * `include_states`, `include_types`; `include_offsets` fails as it does on a table).
 *
 * The term only checks its arguments and names the table: the connection opens the feed (see
 * `protocol/changefeed.ts`), so `changes` must be the whole query. Feeds on other selections
 * (`get`, `between`, `filter`, `orderBy().limit()`), on system tables, or with terms applied to
 * the feed fail as not implemented. Errors for arguments are the real server's, with its texts
 * and backtraces (checked on 2.4.4).
 *
 * @module
 */

import { type Datum, numberText } from "../datum.ts";
import { logicError, unsupported } from "../errors.ts";
import type { Evaluator, Registry, TermCall } from "../evaluator.ts";
import { TermType } from "../proto.ts";
import {
  DbValue,
  FeedValue,
  isStream,
  SingleSelection,
  TableSlice,
  TableValue,
  typeName,
} from "../values.ts";

/** The queue size of a feed when neither the term nor the query sets one. */
export const DEFAULT_CHANGEFEED_QUEUE_SIZE = 100_000;

/**
 * Checks a `changefeed_queue_size` (the term's optarg, or the query's global one): an integer of
 * at least 1. `frame` is the backtrace frame of type errors; the range error has none, as on the
 * real server.
 */
export function checkQueueSize(value: Datum, frame?: string): number {
  const at = <E extends { at(f: string): E }>(e: E): E => (frame === undefined ? e : e.at(frame));
  if (typeof value !== "number") {
    throw at(logicError(`Expected type NUMBER but found ${typeName(value)}.`));
  }
  if (!Number.isInteger(value)) throw at(logicError(`Number not an integer: ${numberText(value)}`));
  if (value < 1) {
    throw logicError(`Illegal changefeed queue size \`${value}\`.  (Must be >= 1.)`);
  }
  return value;
}

/** ReQL truthiness, which is how the real server reads the `include_*` flags. */
function truthy(v: Datum | undefined): boolean {
  return v !== undefined && v !== null && v !== false;
}

function changes(call: TermCall, ev: Evaluator): FeedValue {
  // Same order as the real server, so that the first bad argument is the one reported.
  const squash = ev.optarg(call, "squash") ?? false;
  if (typeof squash === "number") {
    if (squash < 0) {
      throw logicError("Expected BOOL or a positive NUMBER but found a negative NUMBER.").at(
        "squash",
      );
    }
  } else if (typeof squash !== "boolean") {
    throw logicError(`Expected BOOL or NUMBER but found ${typeName(squash)}.`).at("squash");
  }
  const includeStates = truthy(ev.optarg(call, "include_states"));
  const includeTypes = truthy(ev.optarg(call, "include_types"));
  const includeInitial = truthy(ev.optarg(call, "include_initial"));
  const includeOffsets = truthy(ev.optarg(call, "include_offsets"));
  const target = ev.arg(call, 0);
  const sizeArg = ev.optarg(call, "changefeed_queue_size");
  const queueSize = sizeArg === undefined
    ? undefined
    : checkQueueSize(sizeArg, "changefeed_queue_size");
  if (target instanceof TableValue) {
    const table = target.user;
    if (table === undefined) throw unsupported("changefeeds on system tables");
    if (includeOffsets) throw logicError("Cannot include offsets for range subs.");
    table.checkReadable();
    return new FeedValue(table, {
      includeStates,
      includeTypes,
      includeInitial,
      // A number squashes too, even 0 (the real server tests the datum's truthiness).
      squash: squash !== false,
      squashMs: typeof squash === "number" ? squash * 1000 : 0,
      queueSize,
    });
  }
  if (Array.isArray(target)) throw logicError("Cannot call `changes` on an eager stream.").at(0);
  if (target instanceof DbValue) {
    throw logicError(`Expected type SELECTION but found DATABASE:\ndb("${target.name}")`).at(0);
  }
  if (target instanceof TableSlice || target instanceof SingleSelection || isStream(target)) {
    throw unsupported("changefeeds on anything but a whole table").at(0);
  }
  throw logicError(`Cannot convert ${typeName(target)} to SEQUENCE`);
}

/** Registers `changes`. */
export function registerChanges(reg: Registry): void {
  reg.set(TermType.CHANGES, {
    minArgs: 1,
    maxArgs: 1,
    optargs: [
      "squash",
      "changefeed_queue_size",
      "include_initial",
      "include_offsets",
      "include_states",
      "include_types",
    ],
    rootOnly: "changefeeds other than a whole query `r.table(...).changes(...)`",
    run: changes,
  });
}
