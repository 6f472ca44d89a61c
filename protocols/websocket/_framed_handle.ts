/**
 * A connection handle whose writes leave as WebSocket frames: what message handlers and inner
 * protocols write through, so that any Speedo handler runs over WebSocket unchanged.
 *
 * @module
 */

import type { ConnectionHandle } from "../../core/connection_handle.ts";
import type { MessageHandlerContext } from "../../core/message_handler.ts";
import { closePayload, encodeFrame, Opcode } from "./frame_codec.ts";
import { CloseCode } from "./websocket_errors.ts";

const encoder = new TextEncoder();

/** Frames each write as one final frame of `opcode`; `close` sends a close frame first. */
export class FramedHandle implements ConnectionHandle {
  readonly #raw: ConnectionHandle;
  readonly #opcode: number;

  constructor(raw: ConnectionHandle, opcode: number) {
    this.#raw = raw;
    this.#opcode = opcode;
  }

  get id(): number {
    return this.#raw.id;
  }

  get open(): boolean {
    return this.#raw.open;
  }

  write(data: Uint8Array | string): boolean {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    return this.#raw.write(encodeFrame(this.#opcode, bytes));
  }

  close(): boolean {
    this.#raw.write(encodeFrame(Opcode.close, closePayload(CloseCode.normal)));
    return this.#raw.close();
  }
}

/** A message-handler context whose handles frame their writes too. */
export function framedContext(
  context: MessageHandlerContext,
  opcode: number,
): MessageHandlerContext {
  return {
    workerIndex: context.workerIndex,
    handle: (id) => new FramedHandle(context.handle(id), opcode),
  };
}
