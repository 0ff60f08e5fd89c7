/**
 * Runs the test server as its own process (for benchmarks):
 *
 * ```sh
 * deno run -A tests/server/main.ts --port 28015 [--host 127.0.0.1] [--password-file F] [--server-name N]
 *   [--table-create-ms MS] [--index-wait-ms MS]
 * ```
 *
 * Prints `listening HOST:PORT` once ready and runs until SIGINT or SIGTERM.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startTestServer } from "./mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    "password-file": { type: "string" },
    "server-name": { type: "string" },
    "table-create-ms": { type: "string", default: "0" },
    "index-wait-ms": { type: "string", default: "0" },
  },
});

const passwordFile = values["password-file"];
const password = passwordFile === undefined
  ? undefined
  : (await Deno.readTextFile(passwordFile)).replace(/\r?\n$/, "");

const server = await startTestServer({
  hostname: values.host,
  port: Number(values.port),
  password,
  serverName: values["server-name"],
  latency: {
    tableCreateMs: Number(values["table-create-ms"]),
    indexWaitMs: Number(values["index-wait-ms"]),
  },
});
console.log(`listening ${server.host}:${server.port}`);

const stop = async () => {
  await server.close();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
