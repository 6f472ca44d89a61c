import type { MessageFailedError } from "../../core/errors.ts";
import { MalformedFrameError } from "../../core/framing/framing_errors.ts";
import { HeaderDecoder } from "../../core/framing/header_decoder.ts";
import type {
  DispatchOptions,
  ProtocolContext,
  ProtocolHandler,
  ProtocolHandlerFactory,
} from "../../core/protocol.ts";
import { type AuthenticationResult, isRefusal } from "../../core/authentication.ts";
import { CONTROL_TYPE, RPC_HEADER_SIZE, RpcFrameWriter, rpcId, RpcKind } from "./_rpc_frame.ts";
import { encodeIdentity, withIdentity } from "./_rpc_identity.ts";

/** Options of {@linkcode rpcProtocol}. */
export interface RpcProtocolOptions {
  /**
   * Largest frame accepted and written (header and payload, without padding), 24 to 65535.
   *
   * @default {65535}
   */
  maxFrameSize?: number;
}

/** Bytes a peer may send while its hello waits for the authenticator (copied meanwhile). */
const MAX_HELD_BYTES = 1 << 20;
const AUTHENTICATION_ERROR = "RpcAuthenticationError";

/**
 * One connection of the RPC protocol:
 *
 * ```
 * open -> [hello -> authenticator] -> frame* -> close
 *           └ refused (or a frame other than a hello first, when the server has an
 *             authenticator): an RpcAuthenticationError, then a close
 * ```
 *
 * Frames read while the authenticator is asked wait (copied), and are handled after.
 */
class RpcProtocolHandler implements ProtocolHandler {
  readonly #context: ProtocolContext;
  readonly #decoder: HeaderDecoder;
  readonly #writer: RpcFrameWriter;
  /** The server has an authenticator and this peer has not passed it yet. */
  #mustAuthenticate: boolean;
  /** The authenticator is being asked: frames wait in `#held`. */
  #asking = false;
  #held: [number, Uint8Array][] = [];
  #heldBytes = 0;
  /** The identity's name, once authenticated. */
  #name = "";
  /** The identity as every dispatched request carries it; undefined without an authenticator. */
  #identity: Uint8Array | undefined;

  constructor(context: ProtocolContext, maxFrameSize: number, writer: RpcFrameWriter) {
    this.#context = context;
    this.#decoder = new HeaderDecoder({ maxFrameSize });
    this.#writer = writer;
    this.#mustAuthenticate = context.authenticationRequired === true &&
      context.authenticate !== undefined;
  }

  data(chunk: Uint8Array): void {
    const decoder = this.#decoder;
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
      if (this.#asking) {
        this.#hold(decoder.type, payload);
        continue;
      }
      if (!this.#frame(decoder.type, payload)) return;
    }
  }

  /** Handles one frame; `false` when the connection is refused. */
  #frame(type: number, payload: Uint8Array): boolean {
    const context = this.#context;
    if (payload.length < RPC_HEADER_SIZE) {
      this.#refuse("RpcError", `RPC payload of ${payload.length} bytes is shorter than its header`);
      return false;
    }
    // Only this side attaches an identity to what it dispatches (`_rpc_identity.ts`).
    if ((payload[1] | payload[2] | payload[3]) !== 0) {
      this.#refuse("RpcError", "The RPC header's bytes 1 to 3 must be 0");
      return false;
    }
    const kind = payload[0];
    if (type === CONTROL_TYPE && kind === RpcKind.hello) {
      this.#hello(rpcId(payload), payload.subarray(RPC_HEADER_SIZE));
      return true;
    }
    if (this.#mustAuthenticate) {
      this.#refuse(
        AUTHENTICATION_ERROR,
        "Authentication required: send credentials first",
        type,
        kind === RpcKind.request ? rpcId(payload) : 0,
      );
      return false;
    }
    if (type === CONTROL_TYPE) {
      // A ping: answered here, on the I/O thread, with no worker.
      if (kind === RpcKind.request) {
        context.handle.write(
          this.#writer.frame(CONTROL_TYPE, RpcKind.reply, rpcId(payload), EMPTY),
        );
      }
      return true;
    }
    const identity = this.#identity;
    if (kind === RpcKind.request || kind === RpcKind.notify) {
      context.dispatch(identity === undefined ? payload : withIdentity(payload, identity), type);
    } else if (kind === RpcKind.cancel) {
      // A cancel goes where its request went (the connection's worker, or inline), ahead of
      // the requests waiting for a place: the one it cancels may be what holds them.
      context.dispatch(payload, type, OVERTAKE);
    }
    // Replies and errors from a client are not part of the protocol: ignored.
    return true;
  }

  /** A hello: asks the authenticator, when the server has one; answers it with the name. */
  #hello(id: number, body: Uint8Array): void {
    const context = this.#context;
    if (!this.#mustAuthenticate) {
      // No authenticator, or authenticated already: the connection's identity stands.
      context.handle.write(this.#writer.frame(CONTROL_TYPE, RpcKind.reply, id, this.#name));
      return;
    }
    const credentials = parseCredentials(body);
    if (credentials === undefined) {
      this.#refuse(AUTHENTICATION_ERROR, "Authentication failed", CONTROL_TYPE, id);
      return;
    }
    this.#asking = true;
    context.authenticate!("rpc", credentials).then(
      (result) => this.#authenticated(id, result),
      () => this.#authenticated(id, { refused: "the authenticator failed" }),
    );
  }

  /** The authenticator answered the hello of `id`. */
  #authenticated(id: number, result: AuthenticationResult): void {
    this.#asking = false;
    const handle = this.#context.handle;
    const held = this.#held;
    this.#held = [];
    this.#heldBytes = 0;
    if (!handle.open) return;
    let identity: Uint8Array | undefined;
    if (!isRefusal(result)) {
      try {
        identity = encodeIdentity(result);
      } catch {
        // Grants that are not plain data, or too long, to reach the services: refused.
      }
    }
    if (isRefusal(result) || identity === undefined) {
      this.#refuse(AUTHENTICATION_ERROR, "Authentication failed", CONTROL_TYPE, id);
      return;
    }
    this.#mustAuthenticate = false;
    this.#identity = identity;
    this.#name = result.name;
    handle.write(this.#writer.frame(CONTROL_TYPE, RpcKind.reply, id, result.name));
    try {
      for (const [type, payload] of held) {
        if (this.#asking) this.#hold(type, payload);
        else if (!this.#frame(type, payload)) return;
      }
    } catch (error) {
      // Out of the server's data call: close as it would.
      this.#refuse("RpcError", (error as Error).message);
    }
  }

  /** Keeps a frame read while the authenticator is asked, up to {@linkcode MAX_HELD_BYTES}. */
  #hold(type: number, payload: Uint8Array): void {
    this.#heldBytes += payload.length;
    if (this.#heldBytes > MAX_HELD_BYTES) {
      this.#asking = false;
      this.#held = [];
      this.#refuse("RpcError", `More than ${MAX_HELD_BYTES} bytes sent before authentication`);
      return;
    }
    this.#held.push([type, payload.slice()]);
  }

  failed(error: MessageFailedError): void {
    // The request's id is not known here (a worker died holding it): tell the peer, and close
    // so its pending calls fail now rather than at their timeouts.
    this.#refuse("RpcError", error.message);
  }

  goodbye(reason: Error): Uint8Array {
    return this.#writer.errorFrame(CONTROL_TYPE, 0, reason.name, reason.message).slice();
  }

  /** Tells the peer why with an error (of id 0 unless it answers a request), then closes. */
  #refuse(name: string, message: string, type = CONTROL_TYPE, id = 0): void {
    const handle = this.#context.handle;
    handle.write(this.#writer.errorFrame(type, id, name, message));
    handle.close();
  }
}

/**
 * A hello's credentials: a JSON object of strings, numbers and booleans (`{ user, pass }`,
 * `{ token }`, ...), or `undefined` when the body is anything else.
 */
function parseCredentials(body: Uint8Array): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  for (const field of Object.values(value)) {
    if (!["string", "number", "boolean"].includes(typeof field)) return undefined;
  }
  return value as Record<string, unknown>;
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
 *        5 cancel (the caller gave up on request `id`), 6 hello (type 0: credentials as JSON)
 * ```
 *
 * Authentication: when the server has an authenticator (`ServerOptions.authenticate`), a
 * connection's first frame must be a hello, whose JSON object (`{ user, pass }`, `{ token }`,
 * ...) goes to it as the `credentials` of protocol `"rpc"`. It is answered with a reply
 * carrying the identity's name, or an `RpcAuthenticationError` error and a close; a call before
 * it gets that error too, and a close. Frames read while the authenticator is asked wait
 * (1 MiB at most). Every request dispatched afterwards carries the identity, which services
 * read as `request.identity`. Without an authenticator a hello is answered with an empty name
 * and services see no identity. The header's bytes 1 to 3 must be 0 from a peer.
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
