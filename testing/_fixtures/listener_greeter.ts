/**
 * A protocol for tests of `ServerOptions.listeners`: it greets each connection with the
 * listener it came on, and tells a refused one the same; loops build it from its recipe.
 *
 * @module
 */

import type { ProtocolContext, ProtocolHandlerFactory } from "../../core/protocol.ts";

/** A protocol that greets each connection with the listener it came on. */
export function listenerGreeter(): ProtocolHandlerFactory {
  return {
    create: (context: ProtocolContext) => ({
      open: () => void context.handle.write(`listener ${context.listener}\n`),
      data: () => {},
    }),
    refusal: (listener?: number) => new TextEncoder().encode(`full on ${listener}\n`),
    recipe: { module: import.meta.url, export: "listenerGreeter" },
  };
}
