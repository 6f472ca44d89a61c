/**
 * Test without sockets: an in-memory transport, protocol runners (`runProtocol` for
 * synchronous message handlers, `runProtocolAsync` awaiting each message in order), an
 * embedded connection (`embed`: the server's own connection over an in-memory socket, its
 * messages handled inline as with `workers: 0`), and chunking helpers that replay an input at
 * every chunk size down to one byte.
 *
 * `runProtocol` is Twisted's `StringTransport`: the protocol handler alone, called directly,
 * synchronous. `embed` is Netty's `EmbeddedChannel`: the real read loop, write coalescing,
 * reply order, close, linger, goodbye and failure paths, driven from the peer's side.
 *
 * @example
 * ```ts
 * import { echoProtocol } from "@speedo/speedo/echo";
 * import echoHandler from "@speedo/speedo/echo/handler";
 * import { forEachChunkSize, runProtocol } from "@speedo/speedo/testing";
 * import { assertEquals } from "@std/assert";
 *
 * forEachChunkSize("one\ntwo\r\n", (_chunks, size) => {
 *   const transport = runProtocol(echoProtocol(), "one\ntwo\r\n", {
 *     chunkSize: size,
 *     handler: echoHandler,
 *   });
 *   assertEquals(transport.text(), "one\ntwo\r\n");
 * });
 * ```
 *
 * @module
 */

export * from "./chunks.ts";
export * from "./embedded_connection.ts";
export * from "./memory_transport.ts";
export * from "./run_protocol.ts";
