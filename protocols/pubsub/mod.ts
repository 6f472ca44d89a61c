/**
 * Pub/sub that speaks the NATS core client protocol, so that it is usable by hand over telnet
 * and by the official NATS clients (`npm:nats`, `@nats-io/transport-node`) unchanged.
 * `deno run -A examples/pubsub.ts`, then `telnet localhost 4222`.
 *
 * | client sends                                | server sends                               |
 * | ------------------------------------------- | ------------------------------------------ |
 * | (connects)                                  | `INFO {json}`                              |
 * | `CONNECT {json}`                            | `+OK` when verbose                         |
 * | `PUB <subject> [reply-to] <#bytes>`         | to each subscriber:                        |
 * | + payload                                   | `MSG <subject> <sid> [reply-to] <#bytes>`  |
 * |                                             | + payload                                  |
 * | `HPUB <subject> [reply-to] <#hdr> <#total>` | `HMSG …` (`MSG` without the headers        |
 * | + payload                                   | to clients that did not declare `headers`) |
 * | `SUB <subject> [queue group] <sid>`         | `-ERR 'Invalid Subject'` when invalid      |
 * | `UNSUB <sid> [max-msgs]`                    |                                            |
 * | `PING` / `PONG`                             | `PONG` / `PING` (to idle connections)      |
 *
 * `CONNECT` honours `verbose`, `pedantic`, `echo`, `headers` and `no_responders` (a request
 * nobody listens to is answered `HMSG <reply> <sid> 16 16` with `NATS/1.0 503` headers).
 * Subjects take `*` (one token) and `>` (one or more trailing tokens); a message goes to every
 * plain subscription and to one member of each queue group. Operation names are
 * case-insensitive and lines may end in CRLF, LF, or telnet's CR NUL; payloads are read by
 * byte count.
 *
 * Limits, as nats-server: a control line over 4 KiB gets `-ERR 'Maximum Control Line
 * Exceeded'`, a payload over `maxPayload` (1 MiB) `-ERR 'Maximum Payload Violation'` (checked on
 * the `PUB` line, before the payload arrives), an unknown operation `-ERR 'Unknown Protocol
 * Operation'`: each closes the connection. A connection that leaves two PINGs unanswered gets
 * `-ERR 'Stale Connection'`; a subscriber whose unsent output passes `maxWriteBuffer` (64 MiB)
 * gets `-ERR 'Slow Consumer'`: both are closed, and nobody else is slowed. A `SUB` past
 * `maxSubscriptions` (10,000 per connection) gets `-ERR 'maximum subscriptions exceeded'` and
 * is not made; the connection stays.
 *
 * Where Speedo differs from nats-server, it is to be kinder to people typing: blank lines are
 * skipped (nats-server closes the connection), a payload may end in LF or CR NUL as well as
 * CRLF, and a malformed operation or an `HPUB` without `headers` is answered with an `-ERR` that
 * says so before the close (nats-server closes without a word). Not supported: authentication,
 * NATS's own TLS negotiation (`tls_required`; TLS from the first byte, the server's `tls` option,
 * works), a cluster protocol of its own (see below), JetStream.
 *
 * ## Beyond one machine: a NATS backplane
 *
 * Speedo servers join their pub/sub through a NATS system (nats-server, alone or clustered
 * with routes) with the `backplane` option ({@linkcode BackplaneOptions}): each server is a
 * NATS client there, subscribes by interest (first local subscriber to a pattern or queue
 * group in, last one out), sends each local publish once (`echo: false`: it never comes back),
 * and delivers what comes from there locally. nats-server picks queue members across all
 * servers (each message once) and answers no-responders. Lost connections fail over to the
 * next listed server with backoff, every interest is subscribed again, and publishes meanwhile
 * are buffered up to `maxBufferedBytes`, then dropped and counted
 * ({@linkcode SubjectRouter.backplane}). With `loops`, each loop joins the backplane on
 * connections of its own, and the loops meet there instead of over their channel.
 *
 * ## Over WebSocket, for browsers
 *
 * As nats-server's `websocket` listener (and the `nats.ws` client) do it: the same text protocol
 * carried in WebSocket messages, whose payloads form one byte stream, the server's in binary
 * frames. {@linkcode pubsubWebSocket} makes the endpoint for `httpServer`'s `websocket` option (a
 * path beside the pages); `pubsubServer({ websocket: {} })` serves it on a port of its own. Give
 * the TCP server and the WebSocket endpoint the same {@linkcode SubjectRouter} (the `router`
 * option; `pubsub.router` of a {@linkcode pubsubServer}), and a TCP publisher reaches a browser
 * subscriber.
 *
 * ## Where routing runs, and why
 *
 * ```
 * socket ─▶ Connection ─bytes─▶ PubSubConnection ─ops─▶ SubjectRouter ─MSG bytes─▶ subscribers'
 *           (read loop)         (PubSubParser,         (one per server:      Connections
 *                                one per connection)    trie, match cache)   (output buffers,
 *                                                                             one flush a turn)
 * ```
 *
 * Everything runs on the I/O thread, inline in the publisher's `data` call: the protocol never
 * dispatches to the worker pool. Routing a message is a cached subject lookup plus, per
 * subscriber, one copy of the ready-made `MSG` bytes into that subscriber's output buffer; a
 * worker crossing would cost more than that work, and would need the subscription state copied
 * per worker or messages sent back for delivery. So the subscription state has one owner, the
 * {@linkcode SubjectRouter} that all connections of a server share, and delivery order per
 * publisher is simply the order of its operations. To use more cores, give the server `loops`:
 * each I/O loop has its own router, and the routers exchange interest (which subjects have
 * subscribers where) so that a message crosses to another loop only when someone there wants
 * it, once per loop; a client's `PONG` waits until the other loops know its subscriptions.
 *
 * @example A server, with a raw client
 * ```ts
 * import { pubsubServer } from "@speedo/speedo/pubsub";
 * import { assertStringIncludes } from "@std/assert";
 *
 * await using server = pubsubServer({ port: 0 });
 * const { port } = await server.listen();
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port });
 * const buffer = new Uint8Array(4096);
 * const info = new TextDecoder().decode(buffer.subarray(0, (await conn.read(buffer)) ?? 0));
 * assertStringIncludes(info, '"proto":1');
 * conn.close();
 * ```
 *
 * @module
 */

export * from "./backplane_errors.ts";
export * from "./backplane_options.ts";
export * from "./nats_authenticator.ts";
export * from "./pubsub_errors.ts";
export * from "./pubsub_parser.ts";
export * from "./pubsub_permissions.ts";
export * from "./pubsub_protocol.ts";
export * from "./pubsub_server.ts";
export * from "./pubsub_websocket.ts";
export * from "./subject.ts";
export * from "./subject_router.ts";
