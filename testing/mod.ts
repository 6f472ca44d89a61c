/**
 * Test without sockets: an in-memory transport, protocol runners (`runProtocol` for
 * synchronous message handlers, `runProtocolAsync` awaiting each message in order), and
 * chunking helpers that replay an input at every chunk size down to one byte.
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
export * from "./memory_transport.ts";
export * from "./run_protocol.ts";
