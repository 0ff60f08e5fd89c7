/**
 * What the measuring scripts (`bench.ts`, `trace_cost.ts`) share: the test server in a process
 * of its own (the tool under test must not share an event loop with the server), a command run
 * under GNU `time`, and the benchmark's document.
 *
 * @module
 */

const decoder = new TextDecoder();

/** What {@link measure} reports of one command. */
export interface Usage {
  /** User + system CPU seconds. */
  cpu: number;
  /** Wall seconds. */
  wall: number;
  /** Peak RSS in MB. */
  maxRssMb: number;
}

/**
 * Runs `cmd` under `/usr/bin/time` (GNU time); returns its CPU seconds, wall seconds and peak
 * RSS. Throws, with the command's stderr, when it fails.
 *
 * @example
 * ```ts
 * import { measure } from "./bench_support.ts";
 *
 * const { cpu, wall, maxRssMb } = await measure(["gzip", "-6", "-c", "docs.json"]);
 * ```
 */
export async function measure(cmd: string[]): Promise<Usage> {
  const started = performance.now();
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "BENCH %U %S %M", ...cmd],
    stdout: "null",
    stderr: "piped",
  }).output();
  const wall = (performance.now() - started) / 1000;
  const text = decoder.decode(out.stderr);
  const line = text.split("\n").find((l) => l.startsWith("BENCH "));
  if (!out.success || !line) throw new Error(`${cmd.join(" ")} failed:\n${text}`);
  const [, user, sys, rssKb] = line.split(" ");
  return { cpu: Number(user) + Number(sys), wall, maxRssMb: Number(rssKb) / 1024 };
}

/**
 * The benchmark's document `i`: about 370 bytes of JSON, with a nested object, an array and a
 * TIME pseudo-type.
 *
 * @example
 * ```ts
 * import { makeDoc } from "./bench_support.ts";
 *
 * const docs = Array.from({ length: 1000 }, (_, i) => makeDoc(i));
 * ```
 */
export function makeDoc(i: number): Record<string, unknown> {
  return {
    id: i,
    name: `User ${i} ${"abcdefghij".repeat(3)}`,
    email: `user${i}@example.com`,
    score: (i * 7919) % 100000 / 7,
    active: i % 3 === 0,
    tags: ["alpha", "beta", `t${i % 17}`],
    joined: { $reql_type$: "TIME", epoch_time: 1600000000 + i, timezone: "+00:00" },
    address: { street: `${i} Main Street`, city: "Springfield", zip: String(10000 + (i % 89999)) },
    notes: "lorem ipsum dolor sit amet, consectetur adipiscing elit ".repeat(2),
  };
}

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
 * import { startServerProcess } from "./bench_support.ts";
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
