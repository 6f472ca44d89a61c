/**
 * Speedo RPC: typed services over the 8-byte message header, with request ids, per-call
 * timeouts, typed errors and cancellation.
 *
 * - Server: {@linkcode rpcServer} is a plain `Server` that serves one handler per message type
 *   from a {@linkcode Services} table, its `handler`. Inline, make the table, register the
 *   services (`services.service(type, handler)`) and pass it; in the worker pool, declare the
 *   table as the default export of a module and pass its URL. {@linkcode rpcProtocol} is the
 *   framing alone; its options go in `rpc`.
 * - Client: {@linkcode connectRpc} gives an {@linkcode RpcClient}: `call(type, body, { timeout,
 *   signal })` resolves with the reply's body or rejects with {@linkcode RpcTimeoutError},
 *   {@linkcode RpcRemoteError}, {@linkcode RpcUnknownTypeError}, {@linkcode RpcConnectionError}
 *   or {@linkcode RpcOverloadError}; `notify` sends one-way messages; `ping` measures a round
 *   trip to the server's I/O thread.
 * - Cancellation: a call aborted by its signal, or timed out, sends a cancel; the server aborts
 *   the running handler's `request.signal` and sends no reply.
 * - Authentication: with the server's `authenticate` hook, a client presents
 *   `connectRpc({ credentials })` in a first frame (a hello); calls without it are refused with
 *   {@linkcode RpcAuthenticationError} and the connection closed. Services read the identity
 *   the hook answered as `request.identity` (`{ name, grants }`), inline or in workers.
 *
 * Wire format (little-endian), one frame per request, reply or one-way message:
 *
 * ```
 *  ┌ size u16 ┬ type u16 ┬ ackSeq u32 ┬ kind u8 ┬ 0 0 0 ┬ id u32 ┬ body … ┬ padding to 8 ┐
 *  0          2          4            8         9       12       16
 *  kind: 1 request, 2 reply, 3 error, 4 one-way, 5 cancel, 6 hello (type 0: credentials).
 *  type 0: the RPC layer's own frames (ping, hello), answered on the I/O thread.
 *  error body: ┌ name length u8 ┬ name UTF-8 ┬ message UTF-8 ┐    id 0: about no one call
 * ```
 *
 * A body is at most 65,519 bytes (a frame's `size` is a u16). Up to 100 requests of a
 * connection are handled at once (the server's `concurrency`), and replies leave as they are
 * ready, matched to calls by id; many connections, or many workers, give parallelism.
 *
 * @example
 * ```ts
 * import { connectRpc, RpcRemoteError, rpcServer, Services } from "@speedo/speedo/rpc";
 * import { assertEquals, assertRejects } from "@std/assert";
 *
 * const Add = 1;
 * const Fail = 2;
 * const services = new Services()
 *   .service(Add, ({ body }) => new Uint8Array([body[0] + body[1]]))
 *   .service(Fail, () => {
 *     throw new RangeError("no");
 *   });
 * await using server = rpcServer({ handler: services });
 * const { port } = await server.listen();
 * await using rpc = await connectRpc({ port });
 * assertEquals(await rpc.call(Add, new Uint8Array([2, 3])), new Uint8Array([5]));
 * const error = await assertRejects(() => rpc.call(Fail), RpcRemoteError);
 * assertEquals([error.remoteName, error.remoteMessage], ["RangeError", "no"]);
 * ```
 *
 * @module
 */

export * from "./rpc_client.ts";
export * from "./rpc_errors.ts";
export * from "./rpc_protocol.ts";
export * from "./rpc_server.ts";
export * from "./services.ts";
