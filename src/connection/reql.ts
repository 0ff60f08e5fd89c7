/**
 * ReQL query terms in their wire JSON form (`[type, args, optargs]`), for the few queries the
 * backup tool runs. Hand-written rather than built with a driver's `r`: loading `rethinkdb-ts`
 * costs about 0.06 s of CPU and 20 MB at every start, a fifth of what gzip spends compressing
 * 100k documents. `tests/connection_reql_test.ts` pins every builder to the term `rethinkdb-ts`
 * builds for the same query.
 *
 * @example
 * ```ts
 * const query = orderBy(table("league", "users"), "uid");
 * console.log(JSON.stringify(query)); // [41,[[15,[[14,["league"]],"users"]]],{"index":"uid"}]
 * ```
 *
 * @module
 */

/** A term as sent on the wire: a datum, or `[type, args, optargs?]`. */
export type Term = unknown;

/** Term types of `ql2.proto` used here. */
const T = {
  MAKE_ARRAY: 2,
  DB: 14,
  TABLE: 15,
  PLUCK: 33,
  ORDER_BY: 41,
  COUNT: 43,
  UPDATE: 53,
  DELETE: 54,
  INSERT: 56,
  DB_CREATE: 57,
  DB_DROP: 58,
  DB_LIST: 59,
  TABLE_CREATE: 60,
  TABLE_DROP: 61,
  INDEX_CREATE: 75,
  GET_ALL: 78,
  INFO: 79,
  JSON: 98,
  INDEX_STATUS: 139,
  SYNC: 138,
  INDEX_WAIT: 140,
  SUM: 145,
  CHANGES: 152,
  ARGS: 154,
  BINARY: 155,
  BRACKET: 170,
  CONFIG: 174,
  WAIT: 177,
  MAXVAL: 181,
  BETWEEN: 182,
  SET_WRITE_HOOK: 189,
  GET_WRITE_HOOK: 190,
} as const;

/** Names by number, built on first use: only `--trace` needs them. */
let names: Map<number, string> | undefined;

/**
 * The `ql2.proto` name of a term type this module builds, e.g. for a trace line; `TERM_<n>`
 * for any other number.
 *
 * @example
 * ```ts
 * termName(41); // "ORDER_BY"
 * termName(999); // "TERM_999"
 * ```
 */
export function termName(type: number): string {
  names ??= new Map(Object.entries(T).map(([name, n]) => [n, name]));
  return names.get(type) ?? `TERM_${type}`;
}

/**
 * The database and table a query concerns, for a trace line: found on the chain of first
 * arguments below the root (where every query built here keeps its table), so that only the
 * name arguments of `DB`, `TABLE`, `TABLE_CREATE`... are read, never a datum (a key, a
 * document, a function).
 *
 * @example
 * ```ts
 * queryTarget(orderBy(table("league", "users"), "uid")); // { db: "league", table: "users" }
 * queryTarget(dbCreate("league")); // { db: "league" }
 * queryTarget(dbList()); // undefined
 * ```
 */
export function queryTarget(query: Term): { db: string; table?: string } | undefined {
  let at = query;
  // Bounded: the deepest query built here nests four terms.
  for (let depth = 0; depth < 16 && Array.isArray(at) && Array.isArray(at[1]); depth++) {
    const [type, args] = at as [number, Term[]];
    switch (type) {
      case T.TABLE:
      case T.TABLE_CREATE:
      case T.TABLE_DROP: {
        const db = dbNameOf(args[0]);
        const name = args[1];
        if (db === undefined) return undefined;
        return typeof name === "string" ? { db, table: name } : { db };
      }
      case T.DB:
      case T.DB_CREATE:
      case T.DB_DROP:
        return typeof args[0] === "string" ? { db: args[0] } : undefined;
      case T.MAKE_ARRAY:
      case T.JSON:
      case T.BINARY:
        // Data, not a place.
        return undefined;
    }
    at = args[0];
  }
  return undefined;
}

function dbNameOf(t: Term): string | undefined {
  if (!Array.isArray(t) || t[0] !== T.DB || !Array.isArray(t[1])) return undefined;
  return typeof t[1][0] === "string" ? t[1][0] : undefined;
}

function term(type: number, args: Term[], optargs?: Record<string, Term>): Term {
  if (optargs !== undefined) return [type, args, optargs];
  return args.length === 0 ? [type] : [type, args];
}

/**
 * A JSON value as a term: arrays become `MAKE_ARRAY` (a bare array on the wire is a term), objects
 * keep their keys with their values converted; pseudo-type objects pass as they are.
 *
 * @example
 * ```ts
 * console.log(JSON.stringify(datum({ a: [1, 2] }))); // {"a":[2,[1,2]]}
 * ```
 */
export function datum(value: unknown): Term {
  if (Array.isArray(value)) return term(T.MAKE_ARRAY, value.map(datum));
  if (value !== null && typeof value === "object") {
    const out: Record<string, Term> = {};
    for (const [key, inner] of Object.entries(value)) out[key] = datum(inner);
    return out;
  }
  return value;
}

/** `r.db(name)`. */
export function db(name: string): Term {
  return term(T.DB, [name]);
}

/** `r.db(database).table(name)`, read with `read_mode: "outdated"` when asked. */
export function table(database: string, name: string, options: { outdated?: boolean } = {}): Term {
  const args = [db(database), name];
  return options.outdated ? term(T.TABLE, args, { read_mode: "outdated" }) : term(T.TABLE, args);
}

/** `r.dbList()`. */
export function dbList(): Term {
  return term(T.DB_LIST, []);
}

/** `r.dbCreate(name)`. */
export function dbCreate(name: string): Term {
  return term(T.DB_CREATE, [name]);
}

/** `r.dbDrop(name)`. */
export function dbDrop(name: string): Term {
  return term(T.DB_DROP, [name]);
}

/** `r.db(database).tableDrop(name)`. */
export function tableDrop(database: string, name: string): Term {
  return term(T.TABLE_DROP, [db(database), name]);
}

/** `r.db(database).tableCreate(name, optargs)`; `optargs` in wire (snake_case) names. */
export function tableCreate(database: string, name: string, optargs: Record<string, Term>): Term {
  return term(T.TABLE_CREATE, [db(database), name], optargs);
}

/** `seq.pluck(...fields)`; a field may be an object of nested fields. */
export function pluck(seq: Term, ...fields: unknown[]): Term {
  return term(T.PLUCK, [seq, ...fields.map(datum)]);
}

/** `seq.count()`. */
export function count(seq: Term): Term {
  return term(T.COUNT, [seq]);
}

/** `seq.sum()`. */
export function sum(seq: Term): Term {
  return term(T.SUM, [seq]);
}

/** `value(field)`. */
export function bracket(value: Term, field: string): Term {
  return term(T.BRACKET, [value, field]);
}

/** `table.info()`. */
export function info(tableTerm: Term): Term {
  return term(T.INFO, [tableTerm]);
}

/** `table.config()`. */
export function config(tableTerm: Term): Term {
  return term(T.CONFIG, [tableTerm]);
}

/** `selection.update(changes)`. */
export function update(selection: Term, changes: Record<string, unknown>): Term {
  return term(T.UPDATE, [selection, datum(changes)]);
}

/** `table.indexStatus()`. */
export function indexStatus(tableTerm: Term): Term {
  return term(T.INDEX_STATUS, [tableTerm]);
}

/** `table.indexWait(...names)`; all indexes when none are named. */
export function indexWait(tableTerm: Term, names: string[] = []): Term {
  return term(T.INDEX_WAIT, [tableTerm, ...names]);
}

/** `table.indexCreate(name, fn)`, `fn` a BINARY function blob. */
export function indexCreate(tableTerm: Term, name: string, fn: Term): Term {
  return term(T.INDEX_CREATE, [tableTerm, name, fn]);
}

/** `table.getWriteHook()`. */
export function getWriteHook(tableTerm: Term): Term {
  return term(T.GET_WRITE_HOOK, [tableTerm]);
}

/** `table.setWriteHook(fn)`, `fn` a BINARY function blob or `null` to remove it. */
export function setWriteHook(tableTerm: Term, fn: Term): Term {
  return term(T.SET_WRITE_HOOK, [tableTerm, fn]);
}

/** `table.sync()`. */
export function sync(tableTerm: Term): Term {
  return term(T.SYNC, [tableTerm]);
}

/** `table.wait({timeout})`. */
export function wait(tableTerm: Term, timeoutSeconds: number): Term {
  return term(T.WAIT, [tableTerm], { timeout: timeoutSeconds });
}

/** `seq.between(after, r.maxval, {leftBound: "open"})`: everything strictly after `after`. */
export function after(seq: Term, key: unknown): Term {
  return term(T.BETWEEN, [seq, datum(key), term(T.MAXVAL, [])], { left_bound: "open" });
}

/**
 * `table.changes(optargs)`: a changefeed; `optargs` in wire (snake_case) names.
 *
 * @example
 * ```ts
 * console.log(JSON.stringify(changes(table("league", "users"), { include_states: true })));
 * // [152,[[15,[[14,["league"]],"users"]]],{"include_states":true}]
 * ```
 */
export function changes(tableTerm: Term, optargs: Record<string, Term>): Term {
  return term(T.CHANGES, [tableTerm], optargs);
}

/** `seq.orderBy({index})`. */
export function orderBy(seq: Term, index: string): Term {
  return term(T.ORDER_BY, [seq], { index });
}

/** `table.insert(r.json(text), optargs)`; `optargs` in wire (snake_case) names. */
export function insertJson(tableTerm: Term, text: string, optargs: Record<string, Term>): Term {
  return term(T.INSERT, [tableTerm, term(T.JSON, [text])], optargs);
}

/**
 * `table.getAll(r.args(r.json(text))).delete(optargs)`: deletes the documents whose primary keys
 * `text`, a JSON array, lists (keys the table does not hold are no error); `optargs` in wire
 * (snake_case) names.
 *
 * @example
 * ```ts
 * console.log(JSON.stringify(deleteKeysJson(table("league", "users"), "[1,2]", {})));
 * // [54,[[78,[[15,[[14,["league"]],"users"]],[154,[[98,["[1,2]"]]]]]]],{}]
 * ```
 */
export function deleteKeysJson(tableTerm: Term, text: string, optargs: Record<string, Term>): Term {
  return term(
    T.DELETE,
    [term(T.GET_ALL, [tableTerm, term(T.ARGS, [term(T.JSON, [text])])])],
    optargs,
  );
}

/**
 * `r.binary(bytes)` from base64 text (line breaks, which the server inserts, removed).
 *
 * @example
 * ```ts
 * console.log(JSON.stringify(binary("AAEC\r\n"))); // [155,[{"$reql_type$":"BINARY","data":"AAEC"}]]
 * ```
 */
export function binary(base64: string): Term {
  return term(T.BINARY, [{ $reql_type$: "BINARY", data: base64.replace(/[\r\n]/g, "") }]);
}
