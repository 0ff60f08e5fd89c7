/**
 * The restore plan, pure: which archive tables go to which target tables, what each will do
 * (create, insert into an existing table with `--force`, or blocked), and why a real run would
 * refuse. `--dry-run` prints it with {@link formatPlan}.
 *
 * @module
 */

import type { TableMetadata } from "../archive/table_info.ts";
import type { Prescan } from "../inspect/prescan.ts";
import type { RestoreOptions } from "./options.ts";
import { filterTables } from "../selection/filter.ts";
import { parseRenames, type Rename, targetOf } from "./rename.ts";
import { parseSelections } from "./selection.ts";
import { shortList } from "./ledger.ts";

/** A table of the archive, as the plan needs it. */
export interface ArchiveTable {
  db: string;
  table: string;
  meta: TableMetadata;
  /** Documents in the archive, when known. */
  documents?: number;
  /** A point-in-time dump's changes of the table, replayed after its documents. */
  changes?: number;
}

/** What {@link planRestore} needs. */
export interface RestorePlanInput {
  tables: ArchiveTable[];
  /** `-i` values. */
  imports?: string[];
  /** `--exclude` values. */
  excludes?: string[];
  /** `--rename` values. */
  renames?: string[];
  /** `db.table` names of the tables on the server. */
  existing: Set<string>;
  force?: boolean;
  /** A point-in-time dump's cut, which the changes bring the tables to. */
  cut?: string;
}

/** One table of the plan. */
export interface PlanEntry {
  source: { db: string; table: string };
  target: { db: string; table: string };
  /** `create`: new table; `insert`: exists, `--force` given; `blocked`: exists, no `--force`. */
  action: "create" | "insert" | "blocked";
  meta: TableMetadata;
  documents?: number;
  /** Changes to replay after the documents (a point-in-time dump); absent without capture. */
  changes?: number;
}

/** The plan: entries sorted by target, the reasons a real run refuses, and warnings. */
export interface RestorePlan {
  entries: PlanEntry[];
  /** One line each; non-empty means the real run stops before writing anything. */
  refusals: string[];
  /** E.g. an `--exclude` that matched nothing. */
  warnings: string[];
  /** A point-in-time dump's cut, which the changes bring the tables to. */
  cut?: string;
}

/**
 * Plans a restore. Throws (before anything is written) for `-i` patterns that match nothing and
 * invalid `--rename`s; rename collisions, FROMs outside the selection and existing tables
 * without `--force` are refusals.
 *
 * @example
 * ```ts
 * const plan = planRestore({ tables, renames: ["league=league_restored"], existing: new Set() });
 * plan.entries[0].target; // { db: "league_restored", table: "users" }
 * ```
 */
export function planRestore(input: RestorePlanInput): RestorePlan {
  const includes = parseSelections(input.imports ?? []);
  const excludes = parseSelections(input.excludes ?? [], "--exclude");
  const renames: Rename[] = parseRenames(input.renames ?? []);
  const refusals: string[] = [];
  const warnings: string[] = [];
  const result = filterTables(input.tables, includes, excludes);
  if (result.unmatchedIncludes.length > 0) {
    refusals.push(
      `-i ${result.unmatchedIncludes.map((s) => s.text).join(", ")}: not in the archive (it holds ${
        input.tables.map((t) => `${t.db}.${t.table}`).sort().join(", ") || "no tables"
      })`,
    );
  }
  for (const p of result.unmatchedExcludes) {
    warnings.push(`--exclude \`${p.text}\` matches no selected table`);
  }
  for (const r of renames) {
    const covered = result.tables.some((t) =>
      t.db === r.from.db && (r.from.table === undefined || r.from.table === t.table)
    );
    if (!covered) {
      refusals.push(
        `--rename ${r.text}: \`${r.from.db}${
          r.from.table === undefined ? "" : `.${r.from.table}`
        }\` is not among the tables being restored`,
      );
    }
  }
  const entries: PlanEntry[] = result.tables.map((t) => {
    const target = targetOf(renames, t.db, t.table);
    const exists = input.existing.has(`${target.db}.${target.table}`);
    return {
      source: { db: t.db, table: t.table },
      target,
      action: !exists ? "create" : input.force ? "insert" : "blocked",
      meta: t.meta,
      documents: t.documents,
      ...(t.changes === undefined ? {} : { changes: t.changes }),
    };
  });
  const byTarget = new Map<string, PlanEntry[]>();
  for (const e of entries) {
    const key = `${e.target.db}.${e.target.table}`;
    byTarget.set(key, [...(byTarget.get(key) ?? []), e]);
  }
  for (const [key, sources] of byTarget) {
    if (sources.length > 1) {
      refusals.push(
        `${
          sources.map((e) => `${e.source.db}.${e.source.table}`).join(" and ")
        } would both be restored into ${key}; change --rename`,
      );
    }
  }
  const blocked = entries.filter((e) => e.action === "blocked").map((e) =>
    `${e.target.db}.${e.target.table}`
  );
  if (blocked.length > 0) {
    refusals.push(describeExisting(blocked));
  }
  entries.sort((a, b) => compare(a.target, b.target));
  const plan: RestorePlan = { entries, refusals, warnings };
  if (input.cut !== undefined) plan.cut = input.cut;
  return plan;
}

function compare(a: { db: string; table: string }, b: { db: string; table: string }): number {
  const x = `${a.db}.${a.table}`;
  const y = `${b.db}.${b.table}`;
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The `--dry-run` report: one line per table, then the refusals (or that the restore would run).
 * A point-in-time dump's tables also say how many changes would be replayed.
 *
 * @example
 * ```ts
 * formatPlan(plan).forEach((line) => console.error(line));
 * ```
 */
export function formatPlan(plan: RestorePlan): string[] {
  const lines = plan.entries.map((e) => {
    const source = `${e.source.db}.${e.source.table}`;
    const target = `${e.target.db}.${e.target.table}`;
    const name = source === target ? target : `${source} -> ${target}`;
    const action = e.action === "create"
      ? "would create"
      : e.action === "insert"
      ? "exists, --force would insert into it"
      : "exists: in the way (--force would insert into it)";
    const docs = (e.documents === undefined ? "documents unknown" : `${e.documents} documents`) +
      (e.changes === undefined ? "" : `, then ${e.changes} changes to replay`);
    const indexes = e.meta.indexes.map((i) => i.index);
    return `${name}: ${action}; ${docs}; primary key ${e.meta.primaryKey}; indexes: ${
      indexes.length === 0 ? "none" : indexes.join(", ")
    }; write hook: ${e.meta.writeHook ? "yes" : "no"}`;
  });
  lines.push(...plan.warnings.map((w) => `warning: ${w}`));
  if (plan.refusals.length === 0) {
    const changes = plan.entries.reduce((sum, e) => sum + (e.changes ?? 0), 0);
    const replay = plan.cut === undefined
      ? ""
      : ` and replay ${changes} changes, bringing them to the cut ${plan.cut}`;
    lines.push(`dry run: the restore would write ${plan.entries.length} tables${replay}`);
  } else {
    lines.push(...plan.refusals.map((r) => `refused: ${r}`));
  }
  return lines;
}

/**
 * The exit code of `--dry-run`: 1 when the real run would refuse, else 0.
 *
 * @example
 * ```ts
 * dryRunExitCode(plan); // 0
 * ```
 */
export function dryRunExitCode(plan: RestorePlan): 0 | 1 {
  return plan.refusals.length > 0 ? 1 : 0;
}

/**
 * Plans the restore of a pre-scanned archive with the command's options: each table with the
 * document count the scan observed.
 *
 * @example
 * ```ts
 * const plan = planPrescanned(scan, { connect, archive: "b.tar.gz", force: true }, existing);
 * ```
 */
export function planPrescanned(
  scan: Prescan,
  options: RestoreOptions,
  existing: Set<string>,
): RestorePlan {
  const tables = [...scan.infos].map(([name, meta]): ArchiveTable => {
    const dot = name.indexOf(".");
    const table: ArchiveTable = {
      db: name.slice(0, dot),
      table: name.slice(dot + 1),
      meta,
      documents: scan.archive.tables.get(name)?.observed?.documents,
    };
    const capture = meta.backup?.capture;
    if (capture !== undefined) table.changes = capture.changes;
    return table;
  });
  return planRestore({
    cut: scan.archive.cut,
    tables,
    imports: options.imports,
    excludes: options.excludes,
    renames: options.renames,
    existing,
    force: options.force,
  });
}

/**
 * The refusal of a restore into tables that exist, without `--force`: their names (the first ten
 * of many), and the ways out.
 *
 * @example
 * ```ts
 * describeExisting(["league.users"]); // "table league.users already exists; nothing was written. …"
 * ```
 */
export function describeExisting(names: string[]): string {
  return `${names.length === 1 ? "table" : "tables"} ${shortList(names)} already ${
    names.length === 1 ? "exists" : "exist"
  }; nothing was written. Use --force to insert into existing tables (documents with the same primary key are replaced), --rename, or -i/--exclude to restore other tables`;
}
