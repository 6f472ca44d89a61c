/**
 * A protocol for tests of `startsTls`: it greets `HELLO plain` in plaintext, starts TLS, says
 * `SECURE`, then echoes lines; on a listener without `startsTls` it echoes at once. Loops
 * build it from its recipe.
 *
 * @module
 */

import type { ProtocolContext, ProtocolHandlerFactory } from "../../core/protocol.ts";

/** The greeter; `startsTls` on listener 0 only. */
export function starttlsGreeter(): ProtocolHandlerFactory {
  return {
    create: (context: ProtocolContext) => ({
      open() {
        if (context.listener !== 0) return;
        context.handle.write("HELLO plain\n");
        context.startTls!();
        context.handle.write("SECURE\n");
      },
      data: (chunk: Uint8Array) => void context.handle.write(chunk.slice()),
    }),
    startsTls: (listener) => listener === 0,
    recipe: { module: import.meta.url, export: "starttlsGreeter" },
  };
}
