import type { MessageFailedError } from "../../core/errors.ts";
import { MalformedFrameError } from "../../core/framing/framing_errors.ts";
import { HeaderDecoder } from "../../core/framing/header_decoder.ts";
import type {
  DispatchOptions,
  ProtocolContext,
  ProtocolHandler,
  ProtocolHandlerFactory,
} from "../../core/protocol.ts";
import { CONTROL_TYPE, RPC_HEADER_SIZE, RpcFrameWriter, rpcId, RpcKind } from "./_rpc_frame.ts";

/** Options of {@linkcode rpcProtocol}. */
export interface RpcProtocolOptions {
  /**
   * Largest frame accepted and written (header and payload, without padding), 24 to 65535.
   *
   * @default {65535}
   */
  maxFrameSize?: number;
}

class RpcProtocolHandler implements ProtocolHandler {
  readonly #context: ProtocolContext;
  readonly #decoder: HeaderDecoder;
  readonly #writer: RpcFrameWriter;

  constructor(context: ProtocolContext, maxFrameSize: number, writer: RpcFrameWriter) {
    this.#context = context;
    this.#decoder = new HeaderDecoder({ maxFrameSize });
    this.#writer = writer;
  }

  data(chunk: Uint8Array): void {
    const decoder = this.#decoder;
    const context = this.#context;
    decoder.feed(chunk);
    while (true) {
      let payload: Uint8Array | null;
      try {
        payload = decoder.next();
      } catch (error) {
        if (!(error instanceof MalformedFrameError)) throw error;
        this.#refuse(error.name, error.message);
        return;
      }
      if (payload === null) return;
      const type = decoder.type;
      if (payload.length < RPC_HEADER_SIZE) {
        this.#refuse(
          "RpcError",
          `RPC payload of ${payload.length} bytes is shorter than its header`,
        );
        return;
      }
      const kind = payload[0];
      if (type === CONTROL_TYPE) {
        // A ping: answered here, on the I/O thread, with no worker.
        if (kind === RpcKind.request) {
          context.handle.write(
            this.#writer.frame(CONTROL_TYPE, RpcKind.reply, rpcId(payload), EMPTY),
          );
        }
        continue;
      }
      if (kind === RpcKind.request || kind === RpcKind.notify) context.dispatch(payload, type);
      else if (kind === RpcKind.cancel) {
        // A cancel goes where its request went (the connection's worker, or inline), ahead of
        // the requests waiting for a place: the one it cancels may be what holds them.
        context.dispatch(payload, type, OVERTAKE);
      }
      // Replies and errors from a client are not part of the protocol: ignored.
    }
  }

  failed(error: MessageFailedError): void {
    // The request's id is not known here (a worker died holding it): tell the peer, and close
    // so its pending calls fail now rather than at their timeouts.
    this.#refuse("RpcError", error.message);
  }

  goodbye(reason: Error): Uint8Array {
    return this.#writer.errorFrame(CONTROL_TYPE, 0, reason.name, reason.message).slice();
  }

  /** Tells the peer why with an error of id 0, then closes. */
  #refuse(name: string, message: string): void {
    const handle = this.#context.handle;
    handle.write(this.#writer.errorFrame(CONTROL_TYPE, 0, name, message));
    handle.close();
  }
}

const EMPTY = new Uint8Array(0);
const OVERTAKE: DispatchOptions = Object.freeze({ overtake: true });

/**
 * The server side of Speedo RPC: frames each connection's bytes with the 8-byte message
 * header ({@linkcode HeaderDecoder}) and dispatches each request with its message type, for
 * {@linkcode Services} to handle in the worker pool or inline. Pings (type 0) are answered on
 * the I/O thread. A malformed frame gets an error (id 0) and closes the connection.
 *
 * ```
 *  frame: ┌ size u16 ┬ type u16 ┬ ackSeq u32 ┬ kind u8 ┬ 0 0 0 ┬ id u32 ┬ body … ┬ padding ┐
 *         0          2          4            8         9       12       16
 *  kind: 1 request, 2 reply, 3 error (body: name length u8, name, message), 4 one-way,
 *        5 cancel (the caller gave up on request `id`)
 * ```
 *
 * The factory has a `recipe`: it runs on every loop of a server with `loops` above 1.
 *
 * @param options The frame size limit.
 * @returns The protocol handler factory.
 *
 * @example A ping answered without a message handler
 * ```ts
 * import { rpcProtocol } from "@speedo/speedo/rpc";
 * import { runProtocol } from "@speedo/speedo/testing";
 * import { assertEquals } from "@std/assert";
 *
 * // A ping: size 16, type 0, then kind 1 (request) and id 5.
 * const ping = new Uint8Array([16, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0]);
 * const transport = runProtocol(rpcProtocol(), ping, { chunkSize: 3 });
 * assertEquals(transport.bytes(), new Uint8Array([16, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0]));
 * ```
 */
export function rpcProtocol(options: RpcProtocolOptions = {}): ProtocolHandlerFactory {
  const maxFrameSize = options.maxFrameSize ?? 0xffff;
  if (!Number.isInteger(maxFrameSize) || maxFrameSize < 24 || maxFrameSize > 0xffff) {
    throw new RangeError(`maxFrameSize must be an integer from 24 to 65535, got ${maxFrameSize}`);
  }
  // Frames are copied by every write: one scratch buffer serves every connection.
  const writer = new RpcFrameWriter(maxFrameSize);
  const refusal = writer.errorFrame(CONTROL_TYPE, 0, "RpcConnectionError", "Server full").slice();
  return {
    create: (context) => new RpcProtocolHandler(context, maxFrameSize, writer),
    refusal: () => refusal,
    recipe: { module: import.meta.url, export: "rpcProtocol", options: { maxFrameSize } },
  };
}
