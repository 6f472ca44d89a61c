/**
 * A real `mosquitto` broker (Debian package `mosquitto`) and its command-line clients
 * (`mosquitto-clients`), for tests that run the same MQTT scenarios against Speedo and against
 * it: the broker on 127.0.0.1 on a free port, anonymous clients allowed, nothing persisted
 * unless the config says so.
 *
 * @module
 */

import { freePort } from "./nats_server.ts";
import { findBinary, type ServerProcess, startServerProcess } from "./server_process.ts";

/** Where `mosquitto` is, or `undefined` when it is not installed. */
export const MOSQUITTO_PATH: string | undefined = findBinary("mosquitto");
/** Where `mosquitto_pub` is, or `undefined`. */
export const MOSQUITTO_PUB_PATH: string | undefined = findBinary("mosquitto_pub");
/** Where `mosquitto_sub` is, or `undefined`. */
export const MOSQUITTO_SUB_PATH: string | undefined = findBinary("mosquitto_sub");

/**
 * Starts mosquitto on `127.0.0.1:port` and waits until it accepts.
 *
 * @param options The port (a free one by default) and more configuration lines.
 * @returns The running broker.
 */
export async function startMosquitto(
  options: { port?: number; config?: string } = {},
): Promise<ServerProcess> {
  if (MOSQUITTO_PATH === undefined) throw new Error("mosquitto is not installed");
  const port = options.port ?? freePort();
  const config = [
    `listener ${port} 127.0.0.1`,
    "allow_anonymous true",
    "persistence false",
    options.config ?? "",
  ].join("\n");
  return await startServerProcess({
    name: "mosquitto",
    path: MOSQUITTO_PATH,
    port,
    config,
    args: ["-c", "{config}"],
  });
}
