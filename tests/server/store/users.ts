/**
 * User accounts and their SCRAM-SHA-256 password material.
 *
 * As in RethinkDB, a password is stored as salt + iteration count + PBKDF2 hash; an empty password
 * (no password) uses one iteration, a real one 4096 (both visible in the recorded handshakes).
 *
 * @module
 */

import { pbkdf2Sync, randomBytes } from "node:crypto";

/** What the server keeps of a password. */
export interface PasswordRecord {
  readonly salt: Uint8Array;
  readonly iterations: number;
  /** PBKDF2-HMAC-SHA256(password, salt, iterations), 32 bytes. */
  readonly saltedPassword: Uint8Array;
  /** False for the empty password. */
  readonly isSet: boolean;
}

/** Builds the stored form of a password (empty string = no password). */
export function makePassword(password: string): PasswordRecord {
  const salt = new Uint8Array(randomBytes(16));
  const iterations = password === "" ? 1 : 4096;
  const saltedPassword = new Uint8Array(
    pbkdf2Sync(password.normalize("NFKC"), salt, iterations, 32, "sha256"),
  );
  return { salt, iterations, saltedPassword, isSet: password !== "" };
}

/** The user accounts of a server; `admin` always exists. */
export class Users {
  readonly #users = new Map<string, PasswordRecord>();

  constructor(adminPassword = "") {
    this.#users.set("admin", makePassword(adminPassword));
  }

  /** The password record of a user, or undefined if the user does not exist. */
  get(name: string): PasswordRecord | undefined {
    return this.#users.get(name);
  }

  /** Sets a password (`null` or `""` = none), creating the user if needed. */
  setPassword(name: string, password: string | null): void {
    this.#users.set(name, makePassword(password ?? ""));
  }

  /** Removes a user (admin cannot be removed). */
  delete(name: string): boolean {
    return name !== "admin" && this.#users.delete(name);
  }

  /** All user names, sorted. */
  names(): string[] {
    return [...this.#users.keys()].sort();
  }
}
