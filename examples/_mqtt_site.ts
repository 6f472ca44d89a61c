/**
 * The server of `examples/mqtt.ts`: `mqttServer` alone, or, with a web address, one server with
 * two addresses sharing one broker: MQTT over TCP on the first, and on the second a folder's
 * pages with MQTT over WebSocket at `/mqtt` beside them. The page (`mqtt.html`) and its socket
 * then have one origin, which the endpoint's default (same-origin pages only) lets in. With
 * `tls`, both addresses speak it: `mqtts://`, `https://` and `wss://`.
 *
 * `mqttServer({ websocket })` answers every plain HTTP request 426, so the web address is
 * built from the parts `mqttServer` uses: the HTTP protocol with a WebSocket upgrade whose
 * stream protocol is the broker's.
 *
 * @module
 */

import { type MessageHandler, Server } from "@speedo/speedo";
import { httpHandler, httpProtocol, serveDir } from "@speedo/speedo/http";
import { MQTT_PORT, mqttProtocol, mqttServer, type MqttServerOptions } from "@speedo/speedo/mqtt";
import { websocketHandler, websocketUpgrade } from "@speedo/speedo/websocket";

/** The path of MQTT over WebSocket on the web address. */
export const MQTT_WEBSOCKET_PATH = "/mqtt";

/** Options of {@linkcode mqttSite}. */
export interface MqttSiteOptions extends MqttServerOptions {
  /** Also serve `dir` and MQTT over WebSocket at `/mqtt` on this port (0: a free one). */
  web?: { port: number; dir: string };
}

/** The broker dispatches nothing over WebSocket: only the HTTP side's answers and close frames. */
const NO_MESSAGES: MessageHandler = {
  onMessage(message) {
    throw new Error(`The MQTT broker dispatches no messages, got type ${message.type}`);
  },
};

/**
 * The broker's server: `mqttServer(options)`, or with `web` one server whose second address
 * (`addresses[1]`) serves the folder and MQTT over WebSocket.
 *
 * @param options `mqttServer`'s options, and the web address.
 * @returns The server, not yet listening, with its broker.
 */
export function mqttSite(
  options: MqttSiteOptions,
): Server & { readonly broker: ReturnType<typeof mqttServer>["broker"] } {
  const { web, mqtt, websocket: _websocket, pubsub, ...serverOptions } = options;
  if (web === undefined) return mqttServer({ ...serverOptions, mqtt, pubsub });
  if (pubsub !== undefined) {
    // mqttServer bridges its own protocol; this server's would need the same bridge.
    throw new TypeError("--websocket does not go with --nats-port or --backplane yet");
  }
  const broker = mqttProtocol(mqtt);
  // The broker's packets in binary frames: the stream mode of the WebSocket module.
  const endpoint = {
    path: MQTT_WEBSOCKET_PATH,
    protocols: ["mqtt"],
    writeType: "binary" as const,
    protocol: broker,
  };
  const http = httpProtocol({
    secure: serverOptions.tls !== undefined,
    upgrade: websocketUpgrade(endpoint),
  });
  const server = new Server({
    ...serverOptions,
    port: serverOptions.port ?? MQTT_PORT,
    // The clients' keep alive finds dead MQTT peers, as in mqttServer.
    idleTimeout: serverOptions.idleTimeout ?? 0,
    listeners: [{ port: web.port, tls: serverOptions.tls }],
    protocol: {
      create: (context) => context.listener === 1 ? http.create(context) : broker.create(context),
      refusal: (listener) => listener === 1 ? http.refusal?.(listener) : undefined,
      close: () => Promise.all([broker.close?.(), http.close?.()]).then(() => {}),
    },
    // Only the web address dispatches: files, and the handshakes' answers and close frames.
    onMessage: httpHandler(serveDir(web.dir), {
      websocket: websocketHandler(NO_MESSAGES, endpoint),
    }).onMessage,
    workers: 0,
  });
  return Object.assign(server, { broker: broker.broker });
}
