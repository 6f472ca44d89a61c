/**
 * A real `mosquitto` broker (Debian package `mosquitto`) and its command-line clients
 * (`mosquitto-clients`), for tests that run the same MQTT scenarios against Speedo and against
 * it: the broker on 127.0.0.1 on a free port, anonymous clients allowed, nothing persisted
 * unless the config says so.
 *
 * @module
 */

import { freePort } from "./nats_server.ts";
import { within } from "../_socket_client.ts";
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

/** What {@linkcode mosquittoFirstMessage} runs: both clients' arguments. */
export interface MosquittoRoundTrip {
  /** Where both clients connect: `-h`, `-p`, `--cafile`, `-V`... */
  connection: string[];
  /** What `mosquitto_sub` subscribes to (`-t FILTER`, `-q 1`...); `-C 1 -v` is added. */
  subscribe: string[];
  /** What `mosquitto_pub` sends (`-t TOPIC -m TEXT`...). */
  publish: string[];
}

/**
 * Runs `mosquitto_sub` until its first message, publishing with `mosquitto_pub` meanwhile: the
 * subscriber may not have subscribed yet, so the publisher runs again every 50 ms until it got
 * one. A publisher that fails (a refused handshake, say) fails it at once.
 *
 * @param options Both clients' arguments.
 * @returns The line the subscriber printed (`topic payload`), trimmed.
 * @throws {Error} When mosquitto_pub fails, or no message comes within 5 s.
 */
export async function mosquittoFirstMessage(options: MosquittoRoundTrip): Promise<string> {
  if (MOSQUITTO_PUB_PATH === undefined || MOSQUITTO_SUB_PATH === undefined) {
    throw new Error("mosquitto_pub and mosquitto_sub are not installed");
  }
  const subscriber = new Deno.Command(MOSQUITTO_SUB_PATH, {
    args: [...options.connection, ...options.subscribe, "-C", "1", "-v"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let output: Deno.CommandOutput | undefined;
  const done = subscriber.output().then((result) => output = result);
  try {
    await within(
      (async () => {
        while (output === undefined) {
          const published = await new Deno.Command(MOSQUITTO_PUB_PATH!, {
            args: [...options.connection, ...options.publish],
            stdout: "null",
            stderr: "piped",
          }).output();
          if (!published.success) {
            throw new Error(`mosquitto_pub failed: ${new TextDecoder().decode(published.stderr)}`);
          }
          let timer: ReturnType<typeof setTimeout> | undefined;
          await Promise.race([done, new Promise((resolve) => timer = setTimeout(resolve, 50))]);
          clearTimeout(timer);
        }
      })(),
      "mosquitto_sub's message",
    );
    return new TextDecoder().decode(output!.stdout).trim();
  } finally {
    try {
      subscriber.kill();
    } catch {
      // Exited with its message.
    }
    await done;
  }
}
