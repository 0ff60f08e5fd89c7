/**
 * The complete term registry of the test server.
 *
 * @module
 */

import type { Registry } from "../evaluator.ts";
import { registerAdmin } from "./admin.ts";
import { registerBasic } from "./basic.ts";
import { registerChanges } from "./changes.ts";
import { registerFunctions } from "./functions.ts";
import { registerReads } from "./reads.ts";
import { registerWrites } from "./writes.ts";

/** Builds the registry of every implemented term. */
export function createRegistry(): Registry {
  const reg: Registry = new Map();
  registerBasic(reg);
  registerAdmin(reg);
  registerReads(reg);
  registerFunctions(reg);
  registerWrites(reg);
  registerChanges(reg);
  return reg;
}
