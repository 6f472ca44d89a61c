/**
 * A program that forgot `if (import.meta.main)`: it makes a server of several loops at its top
 * level, and its protocol's recipe names this module, so every loop thread that imports it
 * would make one too. For the test that `Server` refuses that.
 *
 * @module
 */

import { Server } from "../../core/server.ts";
import type { ProtocolHandlerFactory } from "../../core/protocol.ts";

/** A protocol that ignores what it reads. */
export function topLevelProtocol(): ProtocolHandlerFactory {
  return {
    create: () => ({ data() {} }),
    recipe: { module: import.meta.url, export: "topLevelProtocol" },
  };
}

/** The server made at the top level (never listened to here). */
export const server: Server = new Server({ protocol: topLevelProtocol(), loops: 2 });
