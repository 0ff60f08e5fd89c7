/**
 * What a restore did to each target table, as the server confirmed it: not started, created
 * (still empty), data going in, or complete. The summary after a failure or an interruption is
 * read from here, so it counts every document written, incomplete tables included. Written
 * means durable: acknowledged with hard durability, or covered by a checkpoint (`sync()`) with
 * soft durability (see `./checkpoint.ts`); so are a point-in-time dump's changes replayed
 * (`./replay.ts`).
 *
 * @module
 */

/** Where a target table stands. */
export type TableStage = "pending" | "created" | "writing" | "complete";

/** Counts and table lists of a restore, as {@link RestoreLedger.outcome} reports them. */
export interface RestoreOutcome {
  /** Documents written (durably), over all tables. */
  documents: number;
  /** Documents written per target `db.table` (tables with at least one). */
  documentsByTable: Record<string, number>;
  /** Changes replayed (durably), over all tables. */
  changes: number;
  /** Changes replayed per target `db.table` (tables with at least one). */
  changesByTable: Record<string, number>;
  /** Tables whose data, indexes and hook are all in. */
  complete: string[];
  /** Tables written in part: data started (or done) but not everything in. */
  partial: string[];
  /** Planned tables with no document written (`created` lists those that exist, empty). */
  notStarted: string[];
  /** Tables of {@link notStarted} that were created and are empty. */
  createdEmpty: string[];
}

/**
 * The per-table record of a restore.
 *
 * @example
 * ```ts
 * const ledger = new RestoreLedger();
 * ledger.plan("league.users");
 * ledger.advance("league.users", "writing");
 * ledger.acknowledge("league.users", 500);
 * ledger.outcome().partial; // ["league.users"]
 * ```
 */
export class RestoreLedger {
  readonly #stages = new Map<string, TableStage>();
  readonly #documents = new Map<string, number>();
  readonly #changes = new Map<string, number>();

  /** Registers a table the restore means to write (stays `pending` until it advances). */
  plan(name: string): void {
    if (!this.#stages.has(name)) this.#stages.set(name, "pending");
  }

  /** Moves a table forward; a table never moves back. */
  advance(name: string, stage: TableStage): void {
    const order: TableStage[] = ["pending", "created", "writing", "complete"];
    const now = this.#stages.get(name) ?? "pending";
    if (order.indexOf(stage) > order.indexOf(now)) this.#stages.set(name, stage);
  }

  /** Counts documents written durably to a table. */
  acknowledge(name: string, documents: number): void {
    this.#documents.set(name, (this.#documents.get(name) ?? 0) + documents);
  }

  /**
   * Counts changes replayed durably into a table.
   *
   * @example
   * ```ts
   * const ledger = new RestoreLedger();
   * ledger.replayed("league.users", 12);
   * ledger.outcome().changes; // 12
   * ```
   */
  replayed(name: string, changes: number): void {
    this.#changes.set(name, (this.#changes.get(name) ?? 0) + changes);
  }

  /** The stage of a table (`pending` for an unknown one). */
  stage(name: string): TableStage {
    return this.#stages.get(name) ?? "pending";
  }

  /** The counts and lists for the summary, names sorted. */
  outcome(): RestoreOutcome {
    const outcome: RestoreOutcome = {
      documents: 0,
      documentsByTable: {},
      changes: 0,
      changesByTable: {},
      complete: [],
      partial: [],
      notStarted: [],
      createdEmpty: [],
    };
    for (const [name, count] of this.#documents) {
      outcome.documents += count;
      if (count > 0) outcome.documentsByTable[name] = count;
    }
    for (const [name, count] of this.#changes) {
      outcome.changes += count;
      if (count > 0) outcome.changesByTable[name] = count;
    }
    for (const [name, stage] of [...this.#stages].sort(([a], [b]) => a < b ? -1 : 1)) {
      const written = (this.#documents.get(name) ?? 0) > 0;
      if (stage === "complete") outcome.complete.push(name);
      else if (stage === "writing" || written) outcome.partial.push(name);
      else {
        outcome.notStarted.push(name);
        if (stage === "created") outcome.createdEmpty.push(name);
      }
    }
    return outcome;
  }
}

/**
 * The line printed when a restore stops early: documents written, tables written in part
 * (with their counts) and tables not started.
 *
 * @example
 * ```ts
 * describeStop(new RestoreLedger().outcome());
 * // "restore stopped: 0 documents written; no table was written in part"
 * ```
 */
export function describeStop(outcome: RestoreOutcome): string {
  const parts = [`restore stopped: ${outcome.documents} documents written`];
  if (outcome.changes > 0) parts.push(`${outcome.changes} changes replayed`);
  parts.push(
    outcome.partial.length === 0
      ? "no table was written in part"
      : `incomplete tables: ${
        outcome.partial.map((name) => `${name} (${outcome.documentsByTable[name] ?? 0} documents)`)
          .join(", ")
      }`,
  );
  if (outcome.complete.length > 0) parts.push(`complete: ${outcome.complete.length}`);
  if (outcome.notStarted.length > 0) {
    const empty = outcome.createdEmpty.length > 0
      ? ` (${outcome.createdEmpty.length} of them created empty: ${
        shortList(outcome.createdEmpty)
      })`
      : "";
    parts.push(`not started: ${shortList(outcome.notStarted)}${empty}`);
  }
  return parts.join("; ");
}

/**
 * Names joined with `, `, the first ten only when there are more (with the total).
 *
 * @example
 * ```ts
 * shortList(["a.t", "b.t"]); // "a.t, b.t"
 * ```
 */
export function shortList(names: string[]): string {
  return names.length <= 10
    ? names.join(", ")
    : `${names.slice(0, 10).join(", ")}, … (${names.length} in all)`;
}
