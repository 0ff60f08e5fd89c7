/**
 * Replays recorded wire transcripts (`shared/rethinkdb-2.4.4/wire/*.jsonl`) against a server and
 * compares every response with the recorded one.
 *
 * Records are replayed in their recorded order, one connection per recorded connection, with the
 * recorded tokens and queries. The handshake reuses the recorded client nonce but computes the
 * proof from the password this replay knows. A stream is drained completely when its first
 * response is due (the test server's batch boundaries differ from the real server's), then its
 * rows are compared as a whole.
 *
 * Each comparison is exact, or passes after named normalisations (generated ids, estimates,
 * batch boundaries, unordered reads, handshake nonces), or fails.
 *
 * @module
 */

import { RawClient, type RawResponse, scramFinal } from "./raw_client.ts";

/** One transcript line. */
export interface WireRecord {
  conn: number;
  dir: "client" | "server";
  kind: "magic" | "handshake" | "frame";
  token?: string;
  json?: unknown;
}

/** Outcome of one compared exchange. */
export interface Comparison {
  /** Scenario name (from `SCENARIO:` markers) or a label. */
  scenario: string;
  /** What was compared, e.g. `conn 1 token 12 [79]`. */
  label: string;
  status: "exact" | "normalised" | "mismatch";
  /** Normalisations that were needed. */
  notes: string[];
  /** For mismatches: recorded vs received. */
  detail?: string;
}

/** Replay options. */
export interface ReplayOptions {
  host: string;
  port: number;
  /** Password to use for a recorded connection (default ""). */
  password?: (conn: number) => string;
  /** Called before a recorded connection is opened (e.g. to change the admin password). */
  beforeConnection?: (conn: number) => Promise<void> | void;
  /** Label for exchanges before the first `SCENARIO:` marker. */
  defaultScenario?: string;
  /** Scenario name for what follows the opening of a recorded connection (default: unchanged). */
  connectionScenario?: (conn: number) => string | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Replaces generated ids by a placeholder; reports whether any was found. */
function normaliseIds(value: unknown, found: { ids: boolean }): unknown {
  if (typeof value === "string" && UUID.test(value)) {
    found.ids = true;
    return "<uuid>";
  }
  if (Array.isArray(value)) return value.map((v) => normaliseIds(v, found));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, normaliseIds(v, found)]),
    );
  }
  return value;
}

/** Replaces `doc_count_estimates` values (the real server estimates). */
function normaliseEstimates(value: unknown, found: { estimates: boolean }): unknown {
  if (Array.isArray(value)) return value.map((v) => normaliseEstimates(v, found));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => {
        if (k === "doc_count_estimates") {
          found.estimates = true;
          return [k, "<estimate>"];
        }
        return [k, normaliseEstimates(v, found)];
      }),
    );
  }
  return value;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonicalise(a)) === JSON.stringify(canonicalise(b));
}

function canonicalise(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonicalise);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(
      Object.keys(v).sort().map((k) => [k, canonicalise((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

function sortedRows(rows: unknown[]): string[] {
  return rows.map((r) => JSON.stringify(canonicalise(r))).sort();
}

function short(v: unknown): string {
  const s = JSON.stringify(v);
  return s.length > 600 ? `${s.slice(0, 600)}…(${s.length} chars)` : s;
}

/** Compares two values through the normalisations, returning the status and notes. */
function compareValues(
  recorded: unknown,
  mine: unknown,
  query: unknown,
): { status: Comparison["status"]; notes: string[] } {
  if (same(recorded, mine)) return { status: "exact", notes: [] };
  const notes: string[] = [];
  const f1 = { ids: false };
  const f2 = { ids: false };
  let a = normaliseIds(recorded, f1);
  let b = normaliseIds(mine, f2);
  if (f1.ids || f2.ids) notes.push("generated ids");
  const e1 = { estimates: false };
  a = normaliseEstimates(a, e1);
  b = normaliseEstimates(b, { estimates: false });
  if (e1.estimates) notes.push("doc_count_estimates");
  if (same(a, b)) return { status: "normalised", notes };
  // A query that sums estimates returns a number close to the real count.
  if (
    JSON.stringify(query).includes("doc_count_estimates") &&
    typeof (a as RawResponse)?.r?.[0] === "number" && typeof (b as RawResponse)?.r?.[0] === "number"
  ) {
    const x = (a as RawResponse).r[0] as number;
    const y = (b as RawResponse).r[0] as number;
    if (Math.abs(x - y) <= Math.max(1, 0.1 * Math.max(x, y))) {
      return { status: "normalised", notes: [...notes, "doc_count_estimates (sum)"] };
    }
  }
  return { status: "mismatch", notes };
}

interface TokenPlan {
  start: unknown[];
  followups: unknown[][];
  responses: RawResponse[];
}

function key(conn: number, token: string): string {
  return `${conn}/${token}`;
}

/** Collects, per connection and token, the recorded client queries and server responses. */
function planTokens(records: WireRecord[]): Map<string, TokenPlan> {
  const plans = new Map<string, TokenPlan>();
  for (const rec of records) {
    if (rec.kind !== "frame" || rec.token === undefined) continue;
    const k = key(rec.conn, rec.token);
    let plan = plans.get(k);
    if (rec.dir === "client") {
      const q = rec.json as unknown[];
      if (q[0] === 1 || plan === undefined) {
        plan = { start: q, followups: [], responses: [] };
        plans.set(k, plan);
      } else {
        plan.followups.push(q);
      }
    } else if (plan !== undefined) {
      plan.responses.push(rec.json as RawResponse);
    }
  }
  return plans;
}

function isStreamResponse(r: RawResponse | null | undefined): boolean {
  return r !== null && r !== undefined && (r.t === 2 || r.t === 3) && "n" in r;
}

/** Replays a transcript; returns one comparison per exchange and handshake message. */
export async function replayTranscript(
  records: WireRecord[],
  options: ReplayOptions,
): Promise<Comparison[]> {
  const results: Comparison[] = [];
  const clients = new Map<number, RawClient>();
  const handshakeState = new Map<number, { bare: string; serverFirst?: string }>();
  const plans = planTokens(records);
  const done = new Set<string>();
  let scenario = options.defaultScenario ?? "(setup)";
  const password = (conn: number) => options.password?.(conn) ?? "";

  for (const rec of records) {
    const client = clients.get(rec.conn);
    if (rec.kind === "magic") {
      await options.beforeConnection?.(rec.conn);
      scenario = options.connectionScenario?.(rec.conn) ?? scenario;
      const c = await RawClient.open(options.host, options.port);
      clients.set(rec.conn, c);
      await c.sendMagic();
      continue;
    }
    if (client === undefined) continue;
    if (rec.kind === "handshake") {
      const msg = rec.json as Record<string, unknown>;
      const state = handshakeState.get(rec.conn);
      if (rec.dir === "client" && state === undefined) {
        const auth = String(msg.authentication);
        handshakeState.set(rec.conn, { bare: auth.slice(auth.indexOf(",", 2) + 1) });
        await client.sendMessage(msg);
      } else if (rec.dir === "client" && state?.serverFirst !== undefined) {
        const { final } = scramFinal(state.bare, state.serverFirst, password(rec.conn));
        await client.sendMessage({ authentication: final });
      } else if (rec.dir === "server") {
        const mine = await client.readMessage();
        results.push(compareHandshake(rec.conn, msg, mine, state, password(rec.conn), scenario));
        if (
          state !== undefined && typeof mine?.authentication === "string" &&
          mine.authentication.startsWith("r=")
        ) {
          state.serverFirst = mine.authentication;
        }
      }
      continue;
    }
    // Frames.
    const k = key(rec.conn, rec.token!);
    if (rec.dir === "client") {
      const q = rec.json as unknown[];
      if (q[0] !== 1) continue; // CONTINUE/STOP are replayed together with their START
      const marker = typeof q[1] === "string" && q[1].startsWith("SCENARIO: ");
      if (marker) scenario = (q[1] as string).slice("SCENARIO: ".length);
      done.delete(k);
      await client.send(Number(rec.token), q);
      continue;
    }
    if (done.has(k)) continue;
    done.add(k);
    const plan = plans.get(k)!;
    const mine = await driveToken(client, Number(rec.token), plan);
    const isMarker = typeof plan.start[1] === "string" &&
      (plan.start[1] as string).startsWith("SCENARIO: ");
    if (isMarker) continue;
    results.push(compareToken(scenario, rec.conn, rec.token!, plan, mine));
  }
  for (const c of clients.values()) c.close();
  return results;
}

/** Gets all of this server's responses for a token, following the recorded client's moves. */
async function driveToken(
  client: RawClient,
  token: number,
  plan: TokenPlan,
): Promise<(RawResponse | null)[]> {
  const mine: (RawResponse | null)[] = [await client.next(token)];
  const stops = plan.followups.some((q) => q[0] === 3);
  if (stops) {
    if (mine[0]?.t === 3) {
      await client.send(token, [3]);
      mine.push(await client.next(token));
    }
    return mine;
  }
  while (mine[mine.length - 1]?.t === 3) {
    await client.send(token, [2]);
    mine.push(await client.next(token));
  }
  // The Python driver sends one CONTINUE after the final batch; the server answers t:16.
  const partials = plan.responses.filter((r) => r.t === 3).length;
  const continues = plan.followups.filter((q) => q[0] === 2).length;
  if (continues > partials) {
    await client.send(token, [2]);
    mine.push(await client.next(token));
  }
  return mine;
}

function compareToken(
  scenario: string,
  conn: number,
  token: string,
  plan: TokenPlan,
  mine: (RawResponse | null)[],
): Comparison {
  const term = plan.start[1];
  const label = `conn ${conn} token ${token} ${short(Array.isArray(term) ? [term[0]] : term)}`;
  const recorded = plan.responses;
  if (mine.some((m) => m === null)) {
    return { scenario, label, status: "mismatch", notes: [], detail: "connection closed" };
  }
  const got = mine as RawResponse[];
  if (recorded.length === got.length && recorded.every((r, i) => same(r, got[i]))) {
    return { scenario, label, status: "exact", notes: [] };
  }
  if (isStreamResponse(recorded[0]) && isStreamResponse(got[0])) {
    return compareStream(scenario, label, plan, recorded, got);
  }
  if (recorded.length === got.length) {
    const notes = new Set<string>();
    for (let i = 0; i < recorded.length; i++) {
      const c = compareValues(recorded[i], got[i], plan.start);
      if (c.status === "mismatch") {
        return {
          scenario,
          label,
          status: "mismatch",
          notes: c.notes,
          detail: `recorded ${short(recorded[i])}\nreceived ${short(got[i])}`,
        };
      }
      c.notes.forEach((n) => notes.add(n));
    }
    return { scenario, label, status: "normalised", notes: [...notes] };
  }
  return {
    scenario,
    label,
    status: "mismatch",
    notes: [],
    detail: `recorded ${short(recorded)}\nreceived ${short(got)}`,
  };
}

function compareStream(
  scenario: string,
  label: string,
  plan: TokenPlan,
  recorded: RawResponse[],
  got: RawResponse[],
): Comparison {
  const notes: string[] = [];
  const rows = (rs: RawResponse[]) => rs.filter((r) => r.t === 2 || r.t === 3).flatMap((r) => r.r);
  const tail = (rs: RawResponse[]) => rs.filter((r) => r.t !== 2 && r.t !== 3);
  const stopped = plan.followups.some((q) => q[0] === 3);
  const batchesDiffer =
    recorded.filter((r) => r.t === 3).length !== got.filter((r) => r.t === 3).length ||
    recorded.some((r, i) => (r.t === 2 || r.t === 3) && r.r.length !== got[i]?.r.length);
  if (stopped) {
    // Only the first batch of an unordered read was seen; its rows depend on the real server's
    // hash sharding. Compare the shape: a partial batch, then the STOP answer.
    const okShape = got[0].t === 3 && got[0].r.length > 0 && same(recorded.at(-1), got.at(-1));
    return {
      scenario,
      label,
      status: okShape ? "normalised" : "mismatch",
      notes: ["unordered partial batch (rows and batch size differ)"],
      detail: okShape ? undefined : `recorded ${short(recorded)}\nreceived ${short(got)}`,
    };
  }
  const a = rows(recorded);
  const b = rows(got);
  let ok = same(a, b);
  if (!ok) {
    const f = { ids: false };
    ok = same(normaliseIds(a, f), normaliseIds(b, f));
    if (ok) notes.push("generated ids");
  }
  if (!ok && a.length === b.length && same(sortedRows(a), sortedRows(b))) {
    ok = true;
    notes.push("unordered read compared as a multiset");
  }
  if (batchesDiffer) notes.push("batch boundaries");
  const tailsOk = same(tail(recorded), tail(got));
  if (!tailsOk) ok = false;
  return {
    scenario,
    label,
    status: ok ? "normalised" : "mismatch",
    notes,
    detail: ok ? undefined : `recorded ${short(recorded)}\nreceived ${short(got)}`,
  };
}

function compareHandshake(
  conn: number,
  recorded: Record<string, unknown>,
  mine: Record<string, unknown> | null,
  state: { bare: string; serverFirst?: string } | undefined,
  password: string,
  scenario: string,
): Comparison {
  const label = `conn ${conn} handshake`;
  if (mine === null) return { scenario, label, status: "mismatch", notes: [], detail: "closed" };
  if (same(recorded, mine)) return { scenario, label, status: "exact", notes: [] };
  const rec = String(recorded.authentication ?? "");
  const got = String(mine.authentication ?? "");
  if (rec.startsWith("r=") && got.startsWith("r=")) {
    // Server-first: nonce suffix and salt are random; the nonce prefix and iterations must match.
    const parse = (s: string) =>
      new Map(s.split(",").map((p) => [p[0], p.slice(2)] as [string, string]));
    const x = parse(rec);
    const y = parse(got);
    const clientNonce = /r=([^,]*)/.exec(state?.bare ?? "")?.[1] ?? "";
    const ok = y.get("r")!.startsWith(clientNonce) && y.get("r")!.length === x.get("r")!.length &&
      atob(y.get("s")!).length === atob(x.get("s")!).length && x.get("i") === y.get("i") &&
      mine.success === true;
    return {
      scenario,
      label,
      status: ok ? "normalised" : "mismatch",
      notes: ["server nonce and salt are random"],
      detail: ok ? undefined : `recorded ${short(recorded)}\nreceived ${short(mine)}`,
    };
  }
  if (rec.startsWith("v=") && got.startsWith("v=") && state?.serverFirst !== undefined) {
    const { serverSignature } = scramFinal(state.bare, state.serverFirst, password);
    const ok = got === `v=${serverSignature}` && mine.success === true;
    return {
      scenario,
      label,
      status: ok ? "normalised" : "mismatch",
      notes: ["server signature depends on the nonce (verified)"],
    };
  }
  return {
    scenario,
    label,
    status: "mismatch",
    notes: [],
    detail: `recorded ${short(recorded)}\nreceived ${short(mine)}`,
  };
}

/** Summarises comparisons per scenario: exact, normalised (with notes) or not reproduced. */
export function summarise(results: Comparison[]): {
  scenario: string;
  status: Comparison["status"];
  notes: string[];
}[] {
  const byScenario = new Map<string, Comparison[]>();
  for (const r of results) byScenario.set(r.scenario, [...(byScenario.get(r.scenario) ?? []), r]);
  return [...byScenario.entries()].map(([scenario, rs]) => ({
    scenario,
    status: rs.some((r) => r.status === "mismatch")
      ? "mismatch"
      : rs.some((r) => r.status === "normalised")
      ? "normalised"
      : "exact",
    notes: [...new Set(rs.flatMap((r) => r.notes))],
  }));
}
