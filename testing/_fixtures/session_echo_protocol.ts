/**
 * A session protocol that answers each message with its payload, built the same way on every
 * I/O loop of a server of several (its `recipe` names this function): for tests of sessions
 * across loops.
 *
 * @module
 */

import { type SessionProtocol, sessionProtocol } from "../../protocols/session/mod.ts";

/** The protocol, with its session files in `dir`. */
export function sessionEcho(options: { dir: string }): SessionProtocol {
  return sessionProtocol({
    dir: options.dir,
    onMessage: (message, session) => void session.send(1, message.payload),
    onError: () => {},
    recipe: { module: import.meta.url, export: "sessionEcho", options },
  });
}
