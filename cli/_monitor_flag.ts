/**
 * Where `speedo serve --monitor PORT` meets the monitor: {@linkcode startMonitor} is the one
 * function the command calls with the flags' values, once they were read and checked.
 *
 * @module
 */

import type { Server, SocketTransport } from "../core/server.ts";
import { monitor } from "../monitor/monitor.ts";
import type { MqttSource, PubSubSource } from "../monitor/monitor_sources.ts";

/** What `--monitor`, `--monitor-hostname` and `--monitor-token` asked for. */
export interface MonitorFlags {
  /** The monitor's port (`--monitor`); 0 picks a free one. */
  port: number;
  /** The address it listens on (`--monitor-hostname`). */
  hostname: string;
  /** The token a client must present (`--monitor-token`), if any. */
  token?: string;
  /** Whether inline handler calls are timed (`--monitor-handler-time`). */
  handlerTime?: boolean;
}

/** A monitor started by {@linkcode startMonitor}. */
export interface MonitorHandle {
  /** Its dashboard's URL (`http://host:port/`). */
  readonly url: string;
  /** Stops it; called before the server closes. */
  close(): void | Promise<void>;
}

/**
 * Starts the monitor of `server` as the `--monitor` flags asked: `/metrics`, `/varz`, `/connz`,
 * `/subsz` (with the pub/sub router or MQTT broker as its source), `/healthz` and the dashboard.
 *
 * @param server The server to watch.
 * @param options Port, hostname and token from the flags.
 * @param protocol The protocol's name, the servers' label in the metrics.
 * @param source The pub/sub router or the MQTT broker on this thread, for `/subsz`.
 * @returns The running monitor.
 * @throws {Error} When the monitor cannot listen (its port taken, say).
 */
export async function startMonitor(
  server: Server<SocketTransport>,
  options: MonitorFlags,
  protocol: string,
  source?: PubSubSource | MqttSource,
): Promise<MonitorHandle> {
  const sources = source === undefined
    ? undefined
    : protocol === "pubsub"
    ? { pubsub: source as PubSubSource }
    : protocol === "mqtt"
    ? { mqtt: source as MqttSource }
    : undefined;
  try {
    return await monitor({ [protocol]: server }, {
      port: options.port,
      hostname: options.hostname,
      ...(options.token === undefined ? {} : { token: options.token }),
      handlerTime: options.handlerTime ?? false,
      ...(sources === undefined ? {} : { sources }),
    });
  } catch (error) {
    throw new Error(
      `--monitor: cannot listen on ${options.hostname}:${options.port}: ${
        error instanceof Error ? error.message : error
      }`,
    );
  }
}
