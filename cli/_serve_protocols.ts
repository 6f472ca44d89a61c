/**
 * What `speedo serve` can run: a row per protocol, with its port, its own flags and how its
 * server is made from them. The flags every protocol shares are `_serve_command.ts`'s; a
 * protocol's row adds its own ({@linkcode ServeProtocol.flags}), and its `make` turns their
 * values and the shared ones ({@linkcode ServeBase}) into a server.
 *
 * @module
 */

import type { Server, ServerOptions, TlsOptions } from "../core/server.ts";
import { defaultWorkerCount } from "../core/worker_pool.ts";
import { ECHO_PORT, echoServer } from "../protocols/echo/echo_server.ts";
import { HTTP_PORT, httpServer } from "../protocols/http/http_server.ts";
import { MQTT_PORT, mqttServer } from "../protocols/mqtt/mqtt_server.ts";
import { PUBSUB_PORT, pubsubServer } from "../protocols/pubsub/pubsub_server.ts";
import { SubjectRouter } from "../protocols/pubsub/subject_router.ts";
import { rpcServer } from "../protocols/rpc/rpc_server.ts";
import {
  type Flag,
  FlagError,
  type FlagValues,
  folderFlag,
  integerFlag,
  MAX_BYTES,
  textFlag,
} from "./_flags.ts";
import { MQTT_FLAGS, mqttOptions, storeChecked } from "./_mqtt_flags.ts";
import { PUBSUB_FLAGS, pubsubOptions } from "./_pubsub_flags.ts";
import type { ServeDirData } from "./_serve_dir_handler.ts";

/** What every protocol's server is given, from the shared flags. */
export interface ServeBase
  extends Pick<ServerOptions, "onConnect" | "onClose" | "onError" | "loops"> {
  /** `--hostname`. */
  hostname: string;
  /** `--port`. */
  port: number;
  /** `--workers`, checked against the protocol's bounds. */
  workers: number;
  /** From `--tls-cert` and `--tls-key`. */
  tls?: TlsOptions;
}

/** A server made, and what it counts beyond the server's own counters. */
export interface Serving {
  /** Not yet listening. */
  server: Server;
  /**
   * Messages published and deliveries made, for a protocol that routes them (a pub/sub router,
   * an MQTT broker on this thread).
   *
   * @default {undefined: not counted}
   */
  routed?: () => { published: number; delivered: number };
  /**
   * What a person can try once it listens, with `PORT` where the port goes.
   *
   * @default {undefined}
   */
  hint?: string;
}

/** Bounds of a protocol's `--workers`. */
export interface ServeWorkers {
  /** The count when the flag is not given. */
  default: number;
  /** The most: 0 for a protocol that handles its messages on the I/O thread. */
  max?: number;
  /** What `--help` says of it. */
  help: string;
  /**
   * Why the most is what it is, said with it in a refusal.
   *
   * @default {"4 per core", for a protocol with workers}
   */
  maxReason?: string;
}

/** A protocol `speedo serve` runs. */
export interface ServeProtocol<S extends Record<string, Flag<unknown>>> {
  /** Its name on the command line: `speedo serve NAME`. */
  readonly name: string;
  /** One sentence of what it serves. */
  readonly summary: string;
  /** Its port when `--port` is not given. */
  readonly port: number;
  /** Its `--workers`. */
  readonly workers: ServeWorkers;
  /** Its own flags, after the shared ones in `--help`. */
  readonly flags: S;
  /**
   * Makes its server.
   *
   * @param values The values of its own flags.
   * @param base What the shared flags set.
   * @returns The server, not yet listening.
   * @throws {FlagError} When its flags disagree with each other.
   */
  make(values: FlagValues<S>, base: ServeBase): Serving;
}

/** A row of {@linkcode SERVE_PROTOCOLS}, its own flags' types erased. */
export type AnyServeProtocol = ServeProtocol<Record<string, Flag<unknown>>>;

/** Keeps a row's types while it is written, then erases them for the table. */
function row<S extends Record<string, Flag<unknown>>>(
  protocol: ServeProtocol<S>,
): AnyServeProtocol {
  return protocol as unknown as AnyServeProtocol;
}

const ON_THE_IO_THREAD = { default: 0, max: 0 } as const;

/** Where a module named on the command line is: a URL as it is, a path from the current folder. */
function moduleUrl(text: string): URL | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(text) && !/^[a-z]:[\\/]/i.test(text)) {
    try {
      return new URL(text);
    } catch {
      return undefined;
    }
  }
  try {
    return Deno.statSync(text).isFile ? new URL(text, `file://${Deno.cwd()}/`) : undefined;
  } catch {
    return undefined;
  }
}

/** The protocols, by name, in the order `--help` lists them. */
export const SERVE_PROTOCOLS: readonly AnyServeProtocol[] = [
  row({
    name: "echo",
    summary: "every line comes back as it came",
    port: ECHO_PORT,
    workers: {
      default: defaultWorkerCount(),
      help: "worker threads per loop; 0 echoes on the I/O thread",
    },
    flags: {
      "max-line-length": integerFlag({
        default: 65536,
        min: 1,
        max: MAX_BYTES,
        help: "longest line in bytes; a longer one gets an error line",
      }),
    },
    make: (values, base) => ({
      server: echoServer({ ...base, echo: { maxLineLength: values["max-line-length"] } }),
      hint: "telnet localhost PORT",
    }),
  }),
  row({
    name: "pubsub",
    summary: "publish/subscribe over the NATS core protocol",
    port: PUBSUB_PORT,
    workers: {
      ...ON_THE_IO_THREAD,
      help: "0 only: the router runs on the I/O thread",
      maxReason: "pubsub routes on the I/O thread",
    },
    flags: PUBSUB_FLAGS,
    make(values, { workers: _, ...base }) {
      const options = pubsubOptions(values);
      // On one loop the router is this thread's, whose counts the stats show; on several, each
      // loop has its own (a router cannot cross to a loop's thread).
      const router = base.loops === 1 ? new SubjectRouter() : undefined;
      const server = pubsubServer({
        ...base,
        authenticate: options.authenticate,
        pubsub: { ...options.pubsub, ...(router === undefined ? {} : { router }) },
      });
      return {
        server,
        routed: router && (() => router),
        hint: "nats -s nats://localhost:PORT sub '>'",
      };
    },
  }),
  row({
    name: "mqtt",
    summary: "an MQTT 3.1.1 and 5.0 broker, on one I/O loop",
    port: MQTT_PORT,
    workers: {
      ...ON_THE_IO_THREAD,
      help: "0 only: the broker runs on the I/O thread",
      maxReason: "mqtt's broker runs on the I/O thread",
    },
    flags: MQTT_FLAGS,
    make(values, { workers: _, ...base }) {
      const options = mqttOptions(values);
      const server = storeChecked(() => mqttServer({ ...base, ...options }));
      return {
        server,
        routed: () => server.broker,
        hint: "mosquitto_sub -p PORT -t '#' -v",
      };
    },
  }),
  row({
    name: "http",
    summary: "HTTP/1.1: the files of a folder",
    port: HTTP_PORT,
    workers: { default: 0, help: "worker threads per loop; 0 answers on the I/O thread" },
    flags: {
      dir: folderFlag({ default: ".", help: "the folder served" }),
    },
    make: (values, base) => ({
      server: httpServer({
        ...base,
        handler: new URL("./_serve_dir_handler.ts", import.meta.url),
        handlerData: { dir: values.dir } satisfies ServeDirData,
      }),
      hint: `curl -i ${base.tls === undefined ? "http" : "https"}://localhost:PORT/`,
    }),
  }),
  row({
    name: "rpc",
    summary: "request/response calls to the services of a module",
    port: 0,
    workers: { default: 0, help: "worker threads per loop; 0 runs the services on the I/O thread" },
    flags: {
      services: textFlag({
        placeholder: "MODULE",
        help:
          "a module (path or URL) whose default export is the Services; without it, type 1 echoes the body",
      }),
    },
    make(values, base) {
      let handler = new URL("./_rpc_echo_services.ts", import.meta.url);
      if (values.services !== undefined) {
        const url = moduleUrl(values.services);
        if (url === undefined) {
          throw new FlagError(
            `--services must be a module file or URL, got "${values.services}"`,
          );
        }
        handler = url;
      }
      return { server: rpcServer({ ...base, handler }) };
    },
  }),
];
