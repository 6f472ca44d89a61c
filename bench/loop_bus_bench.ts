/**
 * What a message between two I/O loops costs in CPU (`core/_loop_bus.ts`): `deno bench -A
 * bench/`. Both loops' buses run on this thread, joined by a `MessageChannel`, so the time is
 * the sum of both sides' work (copy, structured clone, post, deliver), without the wake-up of a
 * second thread. Each iteration sends a turn's batch and waits for its delivery.
 *
 * The baseline writes the same bytes into a local array (what a connection's write costs at
 * least), to show what crossing adds per message.
 *
 * @module
 */

import { LoopBus } from "../core/_loop_bus.ts";

const PAYLOAD = new Uint8Array(100).fill(0x61);

function pair(onWrite: () => void): LoopBus[] {
  const channel = new MessageChannel();
  const host = (write: () => void) => ({ write, close() {}, error() {} });
  return [
    new LoopBus(0, [undefined, channel.port1], host(() => {})),
    new LoopBus(1, [channel.port2, undefined], host(onWrite)),
  ];
}

for (const batch of [1, 16, 256]) {
  const group = `${batch} message(s) of 100 bytes per turn`;
  let local: Uint8Array[] = [];
  Deno.bench({
    name: `copy into a local queue, ${batch} per turn`,
    group,
    baseline: true,
    fn() {
      local = [];
      for (let i = 0; i < batch; i++) local.push(PAYLOAD.slice());
    },
  });
  let left = 0;
  let arrived: (() => void) | undefined;
  const buses = pair(() => {
    if (--left === 0) arrived?.();
  });
  Deno.bench({
    name: `write to a connection of another loop, ${batch} per turn`,
    group,
    async fn() {
      left = batch;
      const done = new Promise<void>((resolve) => arrived = resolve);
      for (let i = 0; i < batch; i++) buses[0].write(1, 1, PAYLOAD);
      await done;
    },
  });
  globalThis.addEventListener("unload", () => buses.forEach((bus) => bus.shut()));
}
