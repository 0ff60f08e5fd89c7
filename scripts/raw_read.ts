/**
 * Benchmark baseline: reads a whole table in primary-key order over the wire and discards every
 * frame, parsing nothing but each frame's response type. This is the floor a dump cannot beat:
 * the server's cost plus the bytes crossing the socket.
 *
 * ```sh
 * deno run -A scripts/raw_read.ts HOST:PORT DB TABLE [PRIMARY_KEY]
 * ```
 *
 * Prints `raw-read <frames> <bytes>` on stdout.
 *
 * @module
 */

import { parseAddress } from "../src/connection/address.ts";
import { type Frame, FrameReader } from "../src/connection/frames.ts";
import { handshake, writeAll } from "../src/connection/handshake.ts";
import { openSocket } from "../src/connection/open.ts";
import { orderBy, table as tableTerm } from "../src/connection/reql.ts";

const [address, db, table, primaryKey = "id"] = Deno.args;
const server = parseAddress(address);
const socket = await openSocket(server, undefined);
const { leftover } = await handshake(socket, "admin", Deno.env.get("RETHINKDB_PASSWORD") ?? "");
const term = orderBy(tableTerm(db, table), primaryKey);
const encoder = new TextEncoder();

function send(token: number, json: string): Promise<void> {
  const body = encoder.encode(json);
  const frame = new Uint8Array(12 + body.length);
  const view = new DataView(frame.buffer);
  view.setUint32(0, token, true);
  view.setUint32(8, body.length, true);
  frame.set(body, 12);
  return writeAll(socket, frame);
}

await send(1, JSON.stringify([1, term, {}]));
const reader = new FrameReader();
let frames = 0;
let bytes = 0;
const buffer = new Uint8Array(256 * 1024);
let pending: Uint8Array | undefined = leftover.length > 0 ? leftover : undefined;
read: while (true) {
  let received: Frame[];
  const target = reader.target;
  if (target) {
    // The rest of a large frame goes straight into its buffer, as the tool's transport does.
    const n = await socket.read(target);
    if (n === null) throw new Error("the server closed the connection");
    received = reader.filled(n);
  } else {
    let chunk = pending;
    pending = undefined;
    if (!chunk) {
      const n = await socket.read(buffer);
      if (n === null) throw new Error("the server closed the connection");
      chunk = buffer.subarray(0, n);
    }
    received = reader.push(chunk);
  }
  for (const frame of received) {
    frames++;
    bytes += frame.body.length;
    // `{"t":3,...}`: the type digit is the sixth byte of every response body.
    const type = frame.body[5] - 0x30;
    // Read buffer and bodies are reused as the tool's transport reuses them.
    reader.release(frame.body);
    if (type === 3) await send(1, "[2]");
    else if (type === 2) break read;
    else throw new Error(new TextDecoder().decode(frame.body.subarray(0, 200)));
  }
}
socket.close();
console.log(`raw-read ${frames} ${bytes}`);
