/**
 * The options and counters of a pub/sub server's backplane: the NATS system (nats-server,
 * alone or clustered with routes) that joins the pub/sub of several Speedo servers. See
 * {@linkcode BackplaneOptions} and the design in `_backplane.ts`.
 *
 * @module
 */

/** TLS to the backplane's servers. */
export interface BackplaneTlsOptions {
  /**
   * PEM certificates of the authorities to trust, besides the system's.
   *
   * @default {undefined: the system's only}
   */
  caCerts?: string[];
  /**
   * The name to verify the server's certificate against.
   *
   * @default {the host of the server's URL}
   */
  hostname?: string;
}

/**
 * The `backplane` option of `pubsubProtocol` (and `pubsubServer`'s `pubsub`): the server
 * becomes a client of a NATS system and bridges its pub/sub there by interest. Structured-
 * clonable (plain data), like the rest of the protocol's options.
 *
 * @example
 * ```ts
 * import type { BackplaneOptions } from "@speedo/speedo/pubsub";
 * import { assertEquals } from "@std/assert";
 *
 * const backplane: BackplaneOptions = {
 *   servers: ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223"],
 *   maxBufferedBytes: 8 * 1024 * 1024,
 * };
 * assertEquals(backplane.servers.length, 2);
 * ```
 */
export interface BackplaneOptions {
  /**
   * The NATS servers to connect to, tried in order (then again from the first, with backoff):
   * `nats://host:port`, `tls://host:port` (TLS from INFO on), with optional `user:pass@`.
   * Several servers of one cluster give failover.
   */
  servers: string[];
  /**
   * User name for the servers that ask for one (a URL's own user wins).
   *
   * @default {undefined}
   */
  user?: string;
  /**
   * Password, with `user`.
   *
   * @default {undefined}
   */
  pass?: string;
  /**
   * Authentication token.
   *
   * @default {undefined}
   */
  token?: string;
  /**
   * TLS to every server, even one that does not ask for it; a server whose INFO says
   * `tls_required` gets TLS either way (with these options, or the system's trust).
   *
   * @default {undefined: TLS only when the server requires it}
   */
  tls?: BackplaneTlsOptions;
  /**
   * Bytes of publishes kept while the backplane is unreachable (or slower than the publishers),
   * sent once it is back; publishes beyond it are dropped and counted
   * ({@linkcode BackplaneStats.dropped}).
   *
   * @default {8388608}
   */
  maxBufferedBytes?: number;
  /**
   * First wait before connecting again once every server failed, in milliseconds; it doubles
   * each round up to `reconnectDelayMax`, with up to half of it as random jitter.
   *
   * @default {100}
   */
  reconnectDelay?: number;
  /**
   * Longest wait between rounds of reconnection, in milliseconds.
   *
   * @default {5000}
   */
  reconnectDelayMax?: number;
  /**
   * Time a server has to complete the handshake (INFO, CONNECT, PONG), in milliseconds.
   *
   * @default {5000}
   */
  connectTimeout?: number;
  /**
   * Period of keepalive PINGs, in milliseconds; after two left unanswered the connection is
   * taken for dead and made again.
   *
   * @default {30000}
   */
  pingInterval?: number;
  /**
   * At close, time given to send what is still queued for the backplane, in milliseconds.
   *
   * @default {2000}
   */
  drainTimeout?: number;
  /**
   * `name` in CONNECT (seen in the server's monitoring).
   *
   * @default {"speedo"}
   */
  name?: string;
}

/**
 * A backplane's state and counters, from `SubjectRouter.backplane`.
 *
 * @example
 * ```ts
 * import type { BackplaneStats } from "@speedo/speedo/pubsub";
 * import { assertEquals } from "@std/assert";
 *
 * const idle: BackplaneStats = {
 *   connected: false, server: undefined, connects: 0, subscriptions: 0, published: 0,
 *   received: 0, buffered: 0, dropped: 0, lastError: undefined,
 * };
 * assertEquals(idle.dropped, 0);
 * ```
 */
export interface BackplaneStats {
  /** Whether the connections to a NATS server are up. */
  readonly connected: boolean;
  /** The server connected to (URL without credentials), or undefined. */
  readonly server: string | undefined;
  /** Successful connections made so far (1 + reconnections). */
  readonly connects: number;
  /** Subscriptions held on the backplane (one per local pattern, and per queue group). */
  readonly subscriptions: number;
  /** Publishes sent (or queued to send) to the backplane. */
  readonly published: number;
  /** Messages received from the backplane. */
  readonly received: number;
  /** Bytes of publishes queued and not yet sent. */
  readonly buffered: number;
  /**
   * Publishes dropped: past `maxBufferedBytes`, larger than the NATS server's `max_payload`, or
   * still unsent at close.
   */
  readonly dropped: number;
  /** The last connection error, if any. */
  readonly lastError: Error | undefined;
}
