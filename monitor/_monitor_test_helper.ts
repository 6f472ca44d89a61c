/**
 * What the monitor's tests share: an inline echo server and a pub/sub server with its router,
 * watched by one monitor on a free port, and loopback clients for both.
 *
 * @module
 */

import { assertEquals, assertMatch } from "@std/assert";
import { echoServer } from "../protocols/echo/echo_server.ts";
import { pubsubServer } from "../protocols/pubsub/pubsub_server.ts";
import { SubjectRouter } from "../protocols/pubsub/subject_router.ts";
import { SocketClient } from "../testing/_socket_client.ts";
import type { Server } from "../core/server.ts";
import { type Monitor, monitor, type MonitorOptions } from "./monitor.ts";

/** Two servers and their monitor; disposing closes all three. */
export interface Watched extends AsyncDisposable {
  readonly echo: Server;
  readonly pubsub: Server;
  readonly router: SubjectRouter;
  readonly monitor: Monitor;
  readonly echoPort: number;
  readonly pubsubPort: number;
}

/** Starts an inline echo server and a pub/sub server, and a monitor of both on port 0. */
export async function watched(options: MonitorOptions = {}): Promise<Watched> {
  const router = new SubjectRouter();
  const echo = echoServer({ port: 0, workers: 0 });
  const pubsub = pubsubServer({ port: 0, pubsub: { router } });
  const { port: echoPort } = await echo.listen();
  const { port: pubsubPort } = await pubsub.listen();
  const watch = await monitor({ echo, pubsub }, {
    port: 0,
    sources: { pubsub: router },
    ...options,
  });
  return {
    echo,
    pubsub,
    router,
    monitor: watch,
    echoPort,
    pubsubPort,
    async [Symbol.asyncDispose]() {
      await watch.close();
      await Promise.all([echo.close(), pubsub.close()]);
    },
  };
}

/** A NATS client past its handshake, with `subjects` subscribed (sids 1, 2, ...). */
export async function natsClient(port: number, ...subjects: string[]): Promise<SocketClient> {
  const client = await SocketClient.connect(port);
  assertMatch(await client.readLine(), /^INFO /);
  const subs = subjects.map((subject, i) => `SUB ${subject} ${i + 1}\r\n`).join("");
  await client.write(`CONNECT {"verbose":false}\r\n${subs}PING\r\n`);
  assertEquals(await client.readLine(), "PONG\r\n");
  return client;
}

/** Sends lines to the echo server and reads them back. */
export async function echoLines(client: SocketClient, ...lines: string[]): Promise<void> {
  await client.write(lines.map((line) => `${line}\n`).join(""));
  assertEquals(await client.readLines(lines.length), lines.map((line) => `${line}\n`));
}

/** A monitor answer: status, headers and body. */
export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  // deno-lint-ignore no-explicit-any
  readonly json: any;
}

/** GETs a monitor path, reading the whole body. */
export async function get(watch: Monitor, path: string, init?: RequestInit): Promise<Answer> {
  const response = await fetch(new URL(path, watch.url), init);
  const text = await response.text();
  const isJson = response.headers.get("content-type")?.startsWith("application/json") === true;
  return {
    status: response.status,
    headers: response.headers,
    text,
    json: isJson ? JSON.parse(text) : undefined,
  };
}
