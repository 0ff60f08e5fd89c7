/**
 * What `verify` reports of an {@link InspectedArchive}: one line per problem, then a summary.
 *
 * @module
 */

import { formatCount } from "../progress/progress.ts";
import { allProblems, type InspectedArchive } from "./catalog.ts";

/** The outcome of `verify`. */
export interface VerifyReport {
  /** True when no problem was found. */
  ok: boolean;
  /** One line per problem, naming the table or entry. */
  problems: string[];
  /** The last line: counts, and what was checked. */
  summary: string;
}

/**
 * Builds the `verify` report of a catalog made in `"verify"` mode.
 *
 * @example
 * ```ts
 * import { inspectArchive } from "./catalog.ts";
 * import { verifyReport } from "./verify.ts";
 *
 * const file = await Deno.open("backup.tar.gz");
 * const report = verifyReport(await inspectArchive(file.readable));
 * for (const line of [...report.problems, report.summary]) console.log(line);
 * ```
 */
export function verifyReport(catalog: InspectedArchive): VerifyReport {
  const problems = allProblems(catalog);
  const tables = [...catalog.tables.values()];
  const documents = tables.reduce((sum, t) => sum + (t.observed?.documents ?? 0), 0);
  const recorded = tables.filter((t) => t.metadata?.backup !== undefined).length;
  const changes = tables.reduce((sum, t) => sum + (t.observedChanges?.changes ?? 0), 0);
  // Only an archive with change capture says anything of changes: others read as before.
  const captured = catalog.cut === undefined
    ? ""
    : `, ${formatCount(changes)} ${
      changes === 1 ? "change" : "changes"
    } up to the cut ${catalog.cut}`;
  const counts = `${tables.length} ${tables.length === 1 ? "table" : "tables"}, ` +
    `${formatCount(documents)} documents${captured}`;
  if (problems.length === 0) {
    const sums = recorded === tables.length
      ? `every count and SHA-256 matches its .info${
        catalog.cut === undefined ? "" : " (changes included)"
      }`
      : recorded === 0
      ? "no .info records counts or checksums (not written by rethinkdb-backup)"
      : `${recorded} of ${tables.length} tables have recorded counts and SHA-256, all matching`;
    return { ok: true, problems, summary: `OK: ${counts}; ${sums}` };
  }
  const damaged = tables.filter((t) => t.problems.length > 0 || t.missingEntry).length;
  const where = damaged > 0 ? ` in ${damaged} of ${tables.length} tables` : "";
  const fatal = catalog.fatal === undefined ? "" : "; the archive could not be read to its end";
  return {
    ok: false,
    problems,
    summary: `FAILED: ${problems.length} ${
      problems.length === 1 ? "problem" : "problems"
    }${where}${fatal} (${counts} read)`,
  };
}
