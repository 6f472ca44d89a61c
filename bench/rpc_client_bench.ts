/**
 * The RPC client's own cost per call, without sockets: 50 callers on one client, their 50
 * replies handed to the client's protocol handler in one chunk, each caller calling again once
 * its reply comes (the steady state of a load of 50 callers). Next to it the floor of any call
 * API that returns a promise: 50 callers awaiting bare promises, resolved in order. Run with
 * `deno bench -A bench/`.
 *
 * @module
 */

import type { ConnectionHandle } from "../core/connection_handle.ts";
import type { ProtocolContext } from "../core/protocol.ts";
import { RpcFrameWriter, RpcKind } from "../protocols/rpc/_rpc_frame.ts";
import { RpcClient } from "../protocols/rpc/rpc_client.ts";

const CALLS = 50;
const BODY = new Uint8Array(16).fill(0x61);

/** A connection that takes every write and keeps nothing (the socket's cost is not measured). */
const handle: ConnectionHandle = { id: 1, open: true, write: () => true, close: () => true };
const context: ProtocolContext = { id: 1, handle, dispatch() {} };
const rpc = new RpcClient();
const protocol = rpc.protocol.create(context);

/** The 50 replies to calls 1 to 50, as one chunk; each round writes its own ids in. */
const chunk = (() => {
  const writer = new RpcFrameWriter();
  const frames = Array.from(
    { length: CALLS },
    (_, i) => writer.frame(1, RpcKind.reply, i + 1, BODY).slice(),
  );
  const bytes = new Uint8Array(frames.reduce((sum, frame) => sum + frame.length, 0));
  frames.reduce((at, frame) => (bytes.set(frame, at), at + frame.length), 0);
  return bytes;
})();
const FRAME = chunk.length / CALLS;
const view = new DataView(chunk.buffer);
let nextId = 1;

/** Starts `CALLS` callers that call again once their reply comes; `made` counts the calls. */
function startCallers(call: () => Promise<Uint8Array>): { made: () => Promise<void> } {
  let made = 0;
  let allMade = Promise.withResolvers<void>();
  for (let c = 0; c < CALLS; c++) {
    (async () => {
      while (true) {
        const reply = call();
        if (++made === CALLS) allMade.resolve();
        if ((await reply).length !== BODY.length) throw new Error("Bad reply");
      }
    })();
  }
  return {
    /** Resolves once every caller has called (again); then counts anew. */
    made: async () => {
      await allMade.promise;
      made = 0;
      allMade = Promise.withResolvers<void>();
    },
  };
}

const rpcCallers = startCallers(() => rpc.call(1, BODY));
await rpcCallers.made();

async function rpcRound(): Promise<void> {
  // The id sits at byte 12 of each reply frame (8-byte header, kind, 3 zeros).
  for (let i = 0; i < CALLS; i++) view.setUint32(i * FRAME + 12, nextId + i, true);
  nextId += CALLS;
  protocol.data(chunk);
  await rpcCallers.made();
}

/** The floor's calls: a promise each, resolved in the order made. */
let waiting: ((body: Uint8Array) => void)[] = [];
const floorCallers = startCallers(() => new Promise((resolve) => waiting.push(resolve)));
await floorCallers.made();

async function floorRound(): Promise<void> {
  const resolvers = waiting;
  waiting = [];
  for (const resolve of resolvers) resolve(BODY);
  await floorCallers.made();
}

// Checked once at load, so a broken client cannot bench as fast.
await rpcRound();
if (rpc.pending !== CALLS || nextId !== CALLS + 1) throw new Error("Calls lost");

Deno.bench("rpc client: 50 callers, a reply each and a new call", { group: "rpc" }, async () => {
  await rpcRound();
});

Deno.bench(
  "floor: 50 callers awaiting bare promises",
  { group: "rpc", baseline: true },
  async () => {
    await floorRound();
  },
);
