/**
 * How a loop builds {@linkcode websocketProtocol} in stream mode again: the inner protocol is a
 * factory, which cannot cross to a loop's thread, so the recipe carries the inner factory's own
 * recipe instead. A loop calls the recipe's function synchronously, after importing its module;
 * the inner module must be loaded by then, so its URL rides in this module's URL
 * (`_stream_protocol.ts?inner=<module>`, one instance of this module per inner module) and is
 * imported at the top level, before the loop calls {@linkcode websocketStreamProtocol}.
 *
 * @module
 */

import type { ProtocolRecipe } from "../../core/loop_context.ts";
import type { ProtocolHandlerFactory } from "../../core/protocol.ts";
import { websocketProtocol, type WebSocketProtocolOptions } from "./websocket_protocol.ts";

const innerUrl = new URL(import.meta.url).searchParams.get("inner");
const innerModule: Record<string, unknown> | undefined = innerUrl === null
  ? undefined
  : await import(innerUrl);

/** The options of a stream-mode recipe: the WebSocket options and the inner protocol's recipe. */
export interface WebSocketStreamRecipeOptions {
  /** `websocketProtocol`'s options, less `protocol`. */
  readonly websocket: Omit<WebSocketProtocolOptions, "protocol">;
  /** How to build the inner protocol. */
  readonly inner: ProtocolRecipe;
}

/**
 * Builds `websocketProtocol` in stream mode from a recipe's options, on a loop: the inner
 * protocol from its recipe (its module was imported with this one), then the WebSocket
 * protocol around it.
 *
 * @param options The WebSocket options and the inner protocol's recipe.
 * @returns The protocol handler factory.
 * @throws {TypeError} When this module was not loaded for the inner recipe's module, or that
 *   module has no such function.
 */
export function websocketStreamProtocol(
  options: WebSocketStreamRecipeOptions,
): ProtocolHandlerFactory {
  const { websocket, inner } = options;
  if (innerUrl !== inner.module) {
    throw new TypeError(
      `websocketStreamProtocol was loaded for the inner module "${innerUrl}", not "${inner.module}"`,
    );
  }
  const make = innerModule?.[inner.export];
  if (typeof make !== "function") {
    throw new TypeError(`Module ${inner.module} has no function ${inner.export}`);
  }
  return websocketProtocol({ ...websocket, protocol: make(inner.options) });
}
