/**
 * Parsing of the `-c/--connect` value.
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** The default RethinkDB driver port. */
export const DEFAULT_PORT = 28015;

/** Where the server listens. */
export interface ServerAddress {
  /** Host name or IP address (IPv6 without brackets). */
  host: string;
  /** TCP port of the driver protocol. */
  port: number;
}

/**
 * Parses `HOST`, `HOST:PORT`, `[IPV6]` or `[IPV6]:PORT`; a bare IPv6 address (more than one
 * colon, no brackets) is taken as a host.
 *
 * @example
 * ```ts
 * parseAddress("db1:28016"); // { host: "db1", port: 28016 }
 * parseAddress("[::1]:28015"); // { host: "::1", port: 28015 }
 * parseAddress(""); // { host: "localhost", port: 28015 }
 * ```
 */
export function parseAddress(text: string): ServerAddress {
  const value = text.trim();
  if (value === "") return { host: "localhost", port: DEFAULT_PORT };
  if (value.startsWith("[")) {
    const close = value.indexOf("]");
    if (close < 0) throw badAddress(text, "missing `]` after the IPv6 address");
    const host = value.slice(1, close);
    const rest = value.slice(close + 1);
    if (host === "") throw badAddress(text, "empty IPv6 address");
    if (rest === "") return { host, port: DEFAULT_PORT };
    if (!rest.startsWith(":")) throw badAddress(text, "expected `:PORT` after `]`");
    return { host, port: parsePort(rest.slice(1), text) };
  }
  const colons = value.split(":").length - 1;
  if (colons === 0) return { host: value, port: DEFAULT_PORT };
  if (colons > 1) return { host: value, port: DEFAULT_PORT };
  const [host, port] = value.split(":");
  if (host === "") throw badAddress(text, "empty host");
  return { host, port: parsePort(port, text) };
}

/** Formats an address for messages: `host:port`, or `[v6]:port`. */
export function formatAddress(address: ServerAddress): string {
  const host = address.host.includes(":") ? `[${address.host}]` : address.host;
  return `${host}:${address.port}`;
}

function parsePort(text: string, whole: string): number {
  if (!/^\d+$/.test(text)) throw badAddress(whole, `port \`${text}\` is not a number`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw badAddress(whole, `port ${port} is out of range 1-65535`);
  return port;
}

function badAddress(text: string, why: string): UsageError {
  return new UsageError(
    `invalid --connect value \`${text}\`: ${why}; expected HOST, HOST:PORT or [IPV6]:PORT`,
  );
}
