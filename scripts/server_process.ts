/**
 * The test server in a process of its own, for the scripts that measure (`bench.ts`,
 * `trace_cost.ts`): the tool under test must not share an event loop with the server.
 *
 * @module
 */

/** A running test-server process. */
export interface ServerProcess {
  /** `host:port` it listens on. */
  address: string;
  /** Stops it. */
  stop: () => Promise<void>;
}

/**
 * Starts `tests/server/main.ts` on a free port, with extra `args` (e.g. modelled latencies:
 * `--table-create-ms 270`); resolves once it listens.
 *
 * @example
 * ```ts
 * import { startServerProcess } from "./server_process.ts";
 *
 * const server = await startServerProcess(["--table-create-ms", "270"]);
 * console.log(server.address);
 * await server.stop();
 * ```
 */
export async function startServerProcess(args: string[] = []): Promise<ServerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../tests/server/main.ts", import.meta.url).pathname,
      "--port",
      "0",
      ...args,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("test server exited");
    text += value;
  }
  reader.releaseLock();
  return {
    address: text.match(/listening (\S+)/)![1],
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}
