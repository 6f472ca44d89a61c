/**
 * A protocol for tests of `ServerOptions.authenticate`: the first line `LOGIN <user> <pass>`
 * asks the server's authenticator; an identity is answered `OK <name> <grants as JSON>` and
 * every later line `ME <name>`, a refusal `DENIED` and a close. It greets with `AUTH required`
 * or `AUTH none`. Loops build it from its recipe.
 *
 * @module
 */

import { isRefusal } from "../../core/authentication.ts";
import type { ProtocolContext, ProtocolHandlerFactory } from "../../core/protocol.ts";

/** The login protocol; see the module doc. */
export function loginProtocol(): ProtocolHandlerFactory {
  const decoder = new TextDecoder();
  return {
    create: (context: ProtocolContext) => {
      let text = "";
      let name: string | undefined;
      let asking = false;
      const line = async (line: string) => {
        if (name !== undefined) {
          context.handle.write(`ME ${name}\n`);
          return;
        }
        if (asking) return;
        const [verb, user, pass] = line.split(" ");
        if (verb !== "LOGIN") {
          context.handle.write("DENIED\n");
          context.handle.close();
          return;
        }
        asking = true;
        const result = await context.authenticate!("login", { user, pass });
        if (isRefusal(result)) {
          context.handle.write("DENIED\n");
          context.handle.close();
          return;
        }
        name = result.name;
        context.handle.write(`OK ${name} ${JSON.stringify(result.grants ?? null)}\n`);
      };
      return {
        open: () =>
          void context.handle.write(
            `AUTH ${context.authenticationRequired ? "required" : "none"}\n`,
          ),
        data: (chunk: Uint8Array) => {
          text += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = text.indexOf("\n")) >= 0) {
            const next = text.slice(0, end).trimEnd();
            text = text.slice(end + 1);
            void line(next);
          }
        },
      };
    },
    refusal: () => new TextEncoder().encode("FULL\n"),
    recipe: { module: import.meta.url, export: "loginProtocol" },
  };
}
