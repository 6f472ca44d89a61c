/**
 * One pub/sub factory for a server with two addresses (`ServerOptions.listeners`): NATS over
 * TCP on the main address (listener 0), NATS over WebSocket on the other (listener 1), one
 * router for both. On several loops each loop builds it from its recipe and its one router
 * joins the other loops once, so TCP and WebSocket clients share subjects whatever loop and
 * address they came on. `pubsubServer({ websocket: { port } })` builds it.
 *
 * @module
 */

import type { LoopContext, ProtocolRecipe } from "../../core/loop_context.ts";
import type { ProtocolContext, ProtocolHandlerFactory } from "../../core/protocol.ts";
import { websocketProtocol } from "../websocket/websocket_protocol.ts";
import { pubsubProtocol, type PubSubProtocolOptions } from "./pubsub_protocol.ts";
import type { SubjectRouter } from "./subject_router.ts";
import { pubsubWebSocket, type PubSubWebSocketOptions } from "./pubsub_websocket.ts";

/** The WebSocket endpoint's options, all clonable. */
export interface PubSubEndpointOptions extends
  Pick<
    PubSubWebSocketOptions,
    "path" | "protocols" | "maxMessageSize" | "writeType" | "allowedOrigins"
  > {
  maxHeaderSize?: number;
  maxUriLength?: number;
  headersTimeout?: number;
  /** Whether the WebSocket address serves TLS (`wss:`). */
  secure?: boolean;
}

/** Options of {@linkcode pubsubListenersProtocol}. */
export interface PubSubListenersOptions {
  pubsub: PubSubProtocolOptions;
  websocket: PubSubEndpointOptions;
}

/** The factory, with the router both addresses share. */
export interface PubSubListenersProtocol extends ProtocolHandlerFactory {
  readonly router: SubjectRouter;
}

/** Index of the WebSocket address among the server's listeners. */
export const WEBSOCKET_LISTENER = 1;

/**
 * Makes the factory: TCP connections (listener 0) speak NATS, WebSocket ones (listener 1)
 * speak NATS inside WebSocket messages, through one router.
 *
 * @param options The pub/sub protocol's options and the WebSocket endpoint's.
 * @returns The factory, with a recipe when the options clone (no router, no functions but
 *   `address`).
 */
export function pubsubListenersProtocol(options: PubSubListenersOptions): PubSubListenersProtocol {
  const tcp = pubsubProtocol(options.pubsub);
  const { maxHeaderSize, maxUriLength, headersTimeout, secure, ...endpointOptions } =
    options.websocket;
  // The endpoint's protocol routes through the TCP protocol's router: one subject space.
  // NATS inside WebSocket meets TLS as wss (the handshake first): no `tls_required` upgrade.
  const { onMessage: _handshakeWriter, ...endpoint } = pubsubWebSocket({
    ...options.pubsub,
    tls: undefined,
    ...endpointOptions,
    router: tcp.router,
  });
  const websocket = websocketProtocol({
    ...endpoint,
    maxHeaderSize,
    maxUriLength,
    headersTimeout,
    secure,
  });
  const recipe: ProtocolRecipe | undefined = tcp.recipe === undefined ? undefined : {
    module: import.meta.url,
    export: "pubsubListenersProtocol",
    // The TCP protocol's recipe holds its options made clonable (its server id fixed).
    options: { pubsub: tcp.recipe.options, websocket: options.websocket },
  };
  return {
    router: tcp.router,
    create: (context: ProtocolContext) =>
      context.listener === WEBSOCKET_LISTENER ? websocket.create(context) : tcp.create(context),
    refusal: (listener?: number) =>
      listener === WEBSOCKET_LISTENER ? websocket.refusal?.(listener) : tcp.refusal?.(listener),
    recipe,
    startsTls: (listener: number) =>
      listener !== WEBSOCKET_LISTENER && tcp.startsTls?.(listener) === true,
    // One router, joined once: the endpoint's protocol shares it.
    attach: (loop: LoopContext) => tcp.attach(loop),
    close: () => Promise.all([tcp.close?.(), websocket.close?.()]).then(() => {}),
  };
}
