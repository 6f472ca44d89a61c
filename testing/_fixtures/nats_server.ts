/**
 * A real `nats-server` (Debian package `nats-server`) for tests that check Speedo against it:
 * started on 127.0.0.1 on a free port (or a given one, to restart it), ready once it accepts,
 * stopped for sure.
 *
 * @module
 */

import { delay } from "@std/async/delay";
import { findBinary, startServerProcess } from "./server_process.ts";

/** Where the `nats-server` binary is, or `undefined` when it is not installed. */
export const NATS_SERVER_PATH: string | undefined = findBinary("nats-server");

/** A running nats-server. */
export interface NatsServerProcess {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** Stops it (SIGTERM, then SIGKILL); resolves once it exited. */
  stop(): Promise<void>;
}

/**
 * Starts nats-server on `127.0.0.1:port` and waits until it accepts connections.
 *
 * @param port The port; by default a free one.
 * @param timeout Time it has to accept, in milliseconds.
 * @param config nats-server configuration text (such as `max_subscriptions: 2`, or a
 *   `cluster { listen: 127.0.0.1:P, routes: [nats-route://127.0.0.1:Q] }` block), if any.
 * @param args More command-line arguments (such as `["-m", "8222"]` for monitoring).
 * @returns The running server.
 */
export async function startNatsServer(
  port?: number,
  timeout = 10_000,
  config?: string,
  args: string[] = [],
): Promise<NatsServerProcess> {
  if (NATS_SERVER_PATH === undefined) throw new Error("nats-server is not installed");
  const chosen = port ?? freePort();
  return await startServerProcess({
    name: "nats-server",
    path: NATS_SERVER_PATH,
    port: chosen,
    config,
    timeout,
    args: [
      ...(config === undefined ? [] : ["-c", "{config}"]),
      "-a",
      "127.0.0.1",
      "-p",
      String(chosen),
      ...args,
    ],
  });
}

/** A port free on 127.0.0.1 now (the OS picks it; it is released at once). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * `count` distinct ports free on 127.0.0.1 now: held open together while picked, since ports
 * picked one at a time may repeat (each is released before the next is asked for).
 */
export function freePorts(count: number): number[] {
  const listeners = Array.from(
    { length: count },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((listener) => (listener.addr as Deno.NetAddr).port);
  for (const listener of listeners) listener.close();
  return ports;
}

function chunks(values: number[], size: number): number[][] {
  const result: number[][] = [];
  for (let i = 0; i < values.length; i += size) result.push(values.slice(i, i + size));
  return result;
}

/** A cluster of nats-servers on 127.0.0.1, joined by routes, each with a monitoring port. */
export interface NatsCluster {
  /** Client ports, one per server. */
  readonly ports: number[];
  /** Monitoring ports (`-m`), one per server: `GET /subsz?subs=1`. */
  readonly monitorPorts: number[];
  /** The route ports, one per server. */
  readonly routePorts: number[];
  /** The running servers; `servers[i]` may be stopped and started again with `restart(i)`. */
  readonly servers: (NatsServerProcess | undefined)[];
  /** Stops server `i`. */
  stop(i: number): Promise<void>;
  /** Starts server `i` again on its ports. */
  restart(i: number): Promise<void>;
  /** Stops them all. */
  close(): Promise<void>;
}

/**
 * Starts `count` nats-servers joined by routes (each routes to all the others), and waits
 * until each has a route to every other one (monitoring `/routez`), so that interest spreads.
 *
 * @param count How many servers.
 * @returns The cluster.
 */
export async function startNatsCluster(count: number): Promise<NatsCluster> {
  const [ports, monitorPorts, routePorts] = chunks(freePorts(3 * count), count);
  const servers: (NatsServerProcess | undefined)[] = new Array(count).fill(undefined);
  const config = (i: number) => {
    const routes = routePorts.filter((_, j) => j !== i).map((p) => `nats-route://127.0.0.1:${p}`);
    return `cluster { name: speedo_test, listen: 127.0.0.1:${routePorts[i]}, routes: [${
      routes.join(", ")
    }] }\n`;
  };
  const start = async (i: number) => {
    servers[i] = await startNatsServer(ports[i], 10_000, config(i), [
      "-m",
      String(monitorPorts[i]),
    ]);
  };
  const waitRouted = async (i: number, routes: number) => {
    const started = performance.now();
    while (true) {
      try {
        const response = await fetch(`http://127.0.0.1:${monitorPorts[i]}/routez`);
        const body = await response.json();
        if (body.num_routes >= routes) return;
      } catch {
        // Not listening yet.
      }
      if (performance.now() - started > 10_000) {
        throw new Error(`nats-server ${i} has no ${routes} routes after 10 s`);
      }
      await delay(20);
    }
  };
  try {
    for (let i = 0; i < count; i++) await start(i);
    for (let i = 0; i < count; i++) await waitRouted(i, count - 1);
  } catch (error) {
    await Promise.all(servers.map((server) => server?.stop()));
    throw error;
  }
  return {
    ports,
    monitorPorts,
    routePorts,
    servers,
    async stop(i) {
      await servers[i]?.stop();
      servers[i] = undefined;
    },
    async restart(i) {
      await start(i);
      for (let j = 0; j < count; j++) {
        if (servers[j] !== undefined) await waitRouted(j, servers.filter(Boolean).length - 1);
      }
    },
    async close() {
      await Promise.all(servers.map((server) => server?.stop()));
    },
  };
}
