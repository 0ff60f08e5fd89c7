/**
 * Locating the shared reference material (`../shared/` next to the repository) and reading its
 * archives and transcripts.
 *
 * @module
 */

import { createTarDecoder } from "npm:modern-tar@0.8.6";

/** The shared reference directory, `<repo>/../shared/`. */
export function sharedDir(): URL {
  return new URL("../../../shared/", import.meta.url);
}

/** The RethinkDB 2.4.4 ground truth directory inside {@link sharedDir}. */
export function specDir(): URL {
  return new URL("rethinkdb-2.4.4/", sharedDir());
}

/** A regular file of a tar archive. */
export interface TarFile {
  name: string;
  bytes: Uint8Array;
}

/** Reads every regular file of a `.tar.gz`. */
export async function readTarGz(url: URL): Promise<TarFile[]> {
  const file = await Deno.open(url);
  const entries = file.readable
    .pipeThrough(new DecompressionStream("gzip"))
    .pipeThrough(createTarDecoder());
  const out: TarFile[] = [];
  for await (const entry of entries) {
    const bytes = new Uint8Array(await new Response(entry.body).arrayBuffer());
    if ((entry.header.type ?? "file") === "file") out.push({ name: entry.header.name, bytes });
  }
  return out;
}

/** Reads a JSON-lines file, gunzipping it if its name ends in `.gz`. */
export async function readJsonLines(url: URL): Promise<unknown[]> {
  const file = await Deno.open(url);
  let stream: ReadableStream<Uint8Array> = file.readable;
  if (url.pathname.endsWith(".gz")) {
    stream = stream.pipeThrough(
      new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
    );
  }
  const text = await new Response(stream).text();
  return text.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line));
}
