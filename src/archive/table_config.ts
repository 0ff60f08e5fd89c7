/**
 * A table's configuration as a dump records it in its `.info` (counts and settings only, no
 * server names), and how a restore turns it back into `tableCreate` options.
 *
 * @module
 */

/** The configuration of a table at dump time. */
export interface SavedTableConfig {
  /** Number of shards. */
  shards: number;
  /** Replicas per shard (the largest over the shards). */
  replicas: number;
  /** `"hard"` or `"soft"`. */
  durability: string;
  /** `"majority"` or `"single"` (RethinkDB 2.4), or what the server reported. */
  write_acks: unknown;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Builds a {@link SavedTableConfig} from the raw result of `table.config()`:
 * `{shards: [{primary_replica, replicas: [...]}, ...], durability, write_acks, ...}` becomes
 * counts, so that no server name reaches the archive. Returns `undefined` for anything that is
 * not a `config()` result.
 *
 * @example
 * ```ts
 * import { savedConfigFromTableConfig } from "./table_config.ts";
 *
 * savedConfigFromTableConfig({
 *   shards: [{ primary_replica: "a", replicas: ["a", "b"] }],
 *   durability: "hard", write_acks: "majority", name: "users",
 * }); // { shards: 1, replicas: 2, durability: "hard", write_acks: "majority" }
 * ```
 */
export function savedConfigFromTableConfig(config: unknown): SavedTableConfig | undefined {
  if (!isObject(config) || !Array.isArray(config.shards) || config.shards.length === 0) {
    return undefined;
  }
  let replicas = 0;
  for (const shard of config.shards) {
    if (!isObject(shard) || !Array.isArray(shard.replicas)) return undefined;
    replicas = Math.max(replicas, shard.replicas.length);
  }
  if (typeof config.durability !== "string") return undefined;
  return {
    shards: config.shards.length,
    replicas,
    durability: config.durability,
    write_acks: config.write_acks,
  };
}

/** The most shards RethinkDB accepts for one table. */
export const MAX_SHARDS = 64;

/** What a restore does with a table's configuration, from {@link planTableConfig}. */
export interface TableConfigPlan {
  /** Options for `tableCreate` (only those that are set). */
  create: { shards?: number; replicas?: number };
  /** Settings to apply with `table.config().update(...)` once the table exists, if any. */
  update: { durability?: string; write_acks?: unknown };
  /** One line per adjustment the operator should know about (e.g. replicas capped). */
  warnings: string[];
}

/**
 * Decides the configuration of a table a restore creates: `--shards`/`--replicas` win over the
 * archive's saved configuration; replicas are capped at the number of servers of the target
 * cluster (RethinkDB refuses more), with a warning; shards are capped at {@link MAX_SHARDS}.
 * `durability` and `write_acks` come from the saved configuration, to set after creation.
 * `name` names the table in warnings.
 *
 * @example
 * ```ts
 * import { planTableConfig } from "./table_config.ts";
 *
 * const plan = planTableConfig(
 *   "league.users",
 *   { shards: 2, replicas: 3, durability: "soft", write_acks: "majority" },
 *   {},
 *   1,
 * );
 * // plan.create: { shards: 2, replicas: 1 }; plan.update: { durability: "soft",
 * // write_acks: "majority" }; plan.warnings: ["league.users: 3 replicas capped at 1, ..."]
 * ```
 */
export function planTableConfig(
  name: string,
  saved: SavedTableConfig | undefined,
  overrides: { shards?: number; replicas?: number },
  serverCount: number,
): TableConfigPlan {
  const plan: TableConfigPlan = { create: {}, update: {}, warnings: [] };
  const shards = overrides.shards ?? saved?.shards;
  if (shards !== undefined) {
    const from = overrides.shards !== undefined ? "--shards" : "the archive";
    if (shards > MAX_SHARDS) {
      plan.warnings.push(
        `${name}: ${shards} shards (from ${from}) capped at ${MAX_SHARDS}, the most RethinkDB allows`,
      );
    }
    plan.create.shards = Math.max(1, Math.min(shards, MAX_SHARDS));
  }
  const replicas = overrides.replicas ?? saved?.replicas;
  if (replicas !== undefined) {
    const from = overrides.replicas !== undefined ? "--replicas" : "the archive";
    const servers = Math.max(1, serverCount);
    if (replicas > servers) {
      plan.warnings.push(
        `${name}: ${replicas} replicas (from ${from}) capped at ${servers}, the number of ` +
          `servers in the cluster`,
      );
    }
    plan.create.replicas = Math.max(1, Math.min(replicas, servers));
  }
  if (saved) {
    plan.update.durability = saved.durability;
    if (saved.write_acks !== undefined) plan.update.write_acks = saved.write_acks;
  }
  return plan;
}
