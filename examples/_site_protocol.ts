/**
 * The protocol of `examples/http.ts`: HTTP with two WebSocket endpoints, an echo at `/ws` and
 * NATS over WebSocket at a path of its own. An upgrade hook is a function, which cannot cross
 * to an I/O loop's thread, so this function is the factory's recipe: each loop calls it and
 * makes the hooks again. The NATS endpoint's router then exists once per loop, and the loops
 * share their interest through `attach`, as `pubsubServer`'s loops do.
 *
 * @module
 */

import type { ProtocolHandlerFactory } from "@speedo/speedo";
import { httpProtocol } from "@speedo/speedo/http";
import { pubsubProtocol, pubsubWebSocket, type SubjectRouter } from "@speedo/speedo/pubsub";
import { SAME_ORIGIN, websocketUpgrade } from "@speedo/speedo/websocket";

/** The echo endpoint: each WebSocket message at `/ws` comes back as it came. */
export const SITE_ECHO: { readonly path: "/ws"; readonly maxMessageSize: number } = {
  path: "/ws",
  maxMessageSize: 64 * 1024,
};

/** Options of {@linkcode siteProtocol}. */
export interface SiteOptions {
  /** The path of NATS over WebSocket. */
  natsPath: string;
  /**
   * Whether the server's second address (`listeners[0]`, listener 1) speaks NATS over TCP,
   * sharing the subjects of `natsPath` (one router per loop, joined across the loops).
   *
   * @default {false}
   */
  natsTcp?: boolean;
  /**
   * The router of the NATS endpoint, to share its subjects with a TCP `pubsubServer`. A
   * protocol given one runs on one loop (it has no recipe).
   *
   * @default {a router of its own}
   */
  router?: SubjectRouter;
  /**
   * The origins whose pages may open `/ws` and the NATS endpoint, besides this site's own
   * pages, which it serves itself (so `"same-origin"` is always added).
   *
   * @default {[]: this site's pages only}
   */
  allowedOrigins?: readonly string[];
  /**
   * The address for `INFO` of the NATS endpoint; one loop only, as `router`.
   *
   * @default {the pub/sub protocol's default}
   */
  address?: () => Deno.NetAddr | undefined;
}

/**
 * HTTP, with the WebSocket echo at `/ws` and NATS over WebSocket at `natsPath`.
 *
 * @param options The NATS path, the other origins allowed, and on one loop the router and
 *   address to share.
 * @returns The factory; with neither `router` nor `address`, it has a recipe.
 */
export function siteProtocol(options: SiteOptions): ProtocolHandlerFactory {
  const { natsPath, natsTcp = false, router, address, allowedOrigins = [] } = options;
  // The site serves the pages that open these sockets: its own origin is always allowed (a
  // list given to an endpoint replaces the same-origin default).
  const origins = [SAME_ORIGIN, ...allowedOrigins];
  const echoUpgrade = websocketUpgrade({ ...SITE_ECHO, allowedOrigins: origins });
  // NATS over WebSocket: the NATS text protocol in WebSocket messages, routed on the I/O
  // thread like the TCP clients' operations.
  const nats = pubsubWebSocket({ path: natsPath, router, address, allowedOrigins: origins });
  const natsUpgrade = websocketUpgrade(nats);
  const http = httpProtocol({
    upgrade: (request, context) => echoUpgrade(request, context) ?? natsUpgrade(request, context),
  });
  // NATS over TCP on the second address, on the endpoint's router: one subject space.
  const tcp = natsTcp ? pubsubProtocol({ router: nats.protocol.router, address }) : undefined;
  return {
    create: (context) =>
      tcp !== undefined && context.listener === 1 ? tcp.create(context) : http.create(context),
    refusal: (listener) =>
      tcp !== undefined && listener === 1 ? tcp.refusal?.(listener) : http.refusal?.(),
    recipe: router === undefined && address === undefined
      ? {
        module: import.meta.url,
        export: "siteProtocol",
        options: { natsPath, natsTcp, allowedOrigins },
      }
      : undefined,
    attach: (loop) => nats.protocol.attach(loop),
  };
}
