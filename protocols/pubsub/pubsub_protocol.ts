import type { ConnectionHandle } from "../../core/connection_handle.ts";
import { IdleTimeoutError, SlowConsumerError } from "../../core/errors.ts";
import { describeError } from "../../core/_printable.ts";
import type { LoopContext, ProtocolRecipe } from "../../core/loop_context.ts";
import type {
  ProtocolContext,
  ProtocolHandler,
  ProtocolHandlerFactory,
} from "../../core/protocol.ts";
import { isRefusal } from "../../core/authentication.ts";
import {
  AuthorizationViolationError,
  HeadersNotSupportedError,
  InvalidConnectError,
  InvalidSubjectError,
  PermissionsViolationError,
  PubSubError,
  StaleConnectionError,
  TooManySubscriptionsError,
} from "./pubsub_errors.ts";
import {
  DEFAULT_MAX_CONTROL_LINE,
  DEFAULT_MAX_PAYLOAD,
  type PubSubOp,
  PubSubParser,
  type PubSubParserOptions,
} from "./pubsub_parser.ts";
import { type PubSubClient, SubjectRouter } from "./subject_router.ts";
import type { BackplaneOptions } from "./backplane_options.ts";
import {
  PermissionCheck,
  publishViolation,
  type PubSubPermissions,
  subscribeViolation,
} from "./pubsub_permissions.ts";
import { makeNonce } from "./_nkeys.ts";
import { checkBackplaneOptions } from "./_backplane.ts";

/** Bytes a client may send while its login is checked before it is cut off. */
const MAX_HELD_BEFORE_LOGIN = 1024 * 1024;

/** The default {@linkcode PubSubProtocolOptions.maxSubscriptions}. */
export const DEFAULT_MAX_SUBSCRIPTIONS = 10_000;

/** The protocol version Speedo announces in `INFO`; NATS clients read features from it. */
export const PUBSUB_SERVER_VERSION = "2.10.0";

/** Options of {@linkcode pubsubProtocol}. */
export interface PubSubProtocolOptions extends PubSubParserOptions {
  /**
   * The router that owns the subscriptions. Give one to read its counters, or to share it
   * between protocol instances of one process: a TCP server's and a WebSocket endpoint's
   * (`pubsubWebSocket`), whose clients then share one subject space.
   *
   * A factory given a router has no `recipe`: it runs on one I/O loop only (a router is an
   * object of one thread). Without one, each loop of a server with `loops` builds its own
   * router, and the routers exchange interest through the loops' channel.
   *
   * @default {a new SubjectRouter}
   */
  router?: SubjectRouter;
  /**
   * Subscriptions one connection may hold, as nats-server's `max_subscriptions`; a `SUB` past
   * it is answered `-ERR 'maximum subscriptions exceeded'` and not made (the connection stays).
   * 0 sets no limit. Each subscription costs the server about 1 KiB, so the default bounds a
   * connection near 10 MiB.
   *
   * @default {10000}
   */
  maxSubscriptions?: number;
  /**
   * Period of the server's PINGs to connections that sent nothing meanwhile, in milliseconds;
   * 0 sends none. One timer serves every connection of the protocol.
   *
   * @default {120000}
   */
  pingInterval?: number;
  /**
   * PINGs a silent connection may leave unanswered; at the next period it is told
   * `-ERR 'Stale Connection'` and closed.
   *
   * @default {2}
   */
  maxPingsOut?: number;
  /**
   * `server_name` in `INFO`.
   *
   * @default {the server id}
   */
  serverName?: string;
  /**
   * `server_id` in `INFO`.
   *
   * @default {a random id of 56 characters, like nats-server's}
   */
  serverId?: string;
  /**
   * `version` in `INFO`: a semver of at least 2.0.0 (clients parse it).
   *
   * @default {"2.10.0"}
   */
  version?: string;
  /**
   * The address listened on, for `host` and `port` in `INFO` (read at each connection); a
   * Unix socket's is told as host `"0.0.0.0"`, port 0. It is left out of the factory's
   * `recipe`: on another loop, as without it, `INFO` tells the address the client connected
   * to (`ProtocolContext.localAddr`).
   *
   * @default {the address each client connected to; 0.0.0.0:4222 where there is none}
   */
  address?: () => Deno.NetAddr | Deno.UnixAddr | undefined;
  /**
   * Join the pub/sub of other servers through a NATS system (nats-server, alone or clustered
   * with routes): the router becomes a NATS client and bridges by interest when the server
   * starts, and leaves at its close ({@linkcode SubjectRouter.joinBackplane}). Plain data, so
   * the factory keeps its recipe: on a server of several loops, each loop joins the backplane
   * on connections of its own, and the loops meet there instead of over their channel.
   *
   * @default {undefined: this server's subjects are its own}
   */
  backplane?: BackplaneOptions;
  /**
   * How clients meet the server's TLS (its `tls` option), as nats-server does it: `"upgrade"`
   * sends `INFO` in plaintext with `tls_required`, then the client starts TLS on the same
   * connection (what NATS clients do by default); `"handshake-first"` expects the handshake at
   * once and sends `INFO` over it (clients' `handshakeFirst`). `pubsubServer` sets `"upgrade"`
   * when it has `tls`; only the main TCP address takes it.
   *
   * @default {undefined: no TLS}
   */
  tls?: "upgrade" | "handshake-first";
  /**
   * Time a client has to send `CONNECT` when the server authenticates (`authenticate`), in
   * milliseconds; later it is told `-ERR 'Authentication Timeout'` and closed (nats-server's
   * `auth_timeout`).
   *
   * @default {2000}
   */
  authTimeout?: number;
  /**
   * Called when a connection is told an error (before it is closed, for the fatal ones): bad
   * input, an invalid subject, a stale connection. A function: a factory given one has no
   * `recipe`, and runs on one I/O loop only.
   */
  onProtocolError?(error: PubSubError, connection: ConnectionHandle): void;
}

/** The pub/sub protocol: a {@linkcode ProtocolHandlerFactory} with its router. */
export interface PubSubProtocol extends ProtocolHandlerFactory {
  /** The router that owns every subscription of the protocol's connections. */
  readonly router: SubjectRouter;
  /** Connections open now. */
  readonly connections: number;
  /**
   * How a loop builds this protocol again: present when the options are structured-clonable
   * (no `router`, no `onProtocolError`; `address` is left out), with the `serverId` fixed so
   * that every loop tells the same one.
   */
  readonly recipe?: ProtocolRecipe;
  /**
   * Joins the routers of the other loops ({@linkcode SubjectRouter.attach}); with a
   * backplane in the options, joins the backplane instead.
   *
   * @param loop This loop.
   */
  attach(loop: LoopContext): void;
  /**
   * Leaves the backplane, if it joined one (its queued publishes sent first, within its
   * `drainTimeout`).
   *
   * @returns Once its connections are closed.
   */
  close(): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const OK = encoder.encode("+OK\r\n");
const PING = encoder.encode("PING\r\n");
const PONG = encoder.encode("PONG\r\n");
const DOT = 0x2e;
const STAR = 0x2a;
const GT = 0x3e;

/** What the connections of one protocol instance share. */
interface Shared {
  readonly router: SubjectRouter;
  readonly parser: Required<PubSubParserOptions>;
  readonly info: (
    id: number,
    localAddr: Deno.Addr | undefined,
    auth: { nonce: string } | undefined,
  ) => string;
  /** How clients meet TLS (`PubSubProtocolOptions.tls`). */
  readonly tls: PubSubProtocolOptions["tls"];
  readonly authTimeout: number;
  readonly onProtocolError: PubSubProtocolOptions["onProtocolError"];
  readonly maxPingsOut: number;
  /** Subscriptions a connection may hold; `Infinity` for no limit. */
  readonly maxSubscriptions: number;
  add(connection: PubSubConnection): void;
  delete(connection: PubSubConnection): void;
}

/**
 * One client connection: parses its operations and acts on them inline, on the I/O thread.
 *
 * ```
 * open (INFO) -> data* -> eof? -> close (its subscriptions end)
 * ```
 */
class PubSubConnection implements ProtocolHandler, PubSubClient {
  readonly handle: ConnectionHandle;
  readonly #id: number;
  /** The server's address this client connected to, for `INFO` without `address`. */
  readonly #localAddr: Deno.Addr | undefined;
  readonly #shared: Shared;
  readonly #router: SubjectRouter;
  readonly #parser: PubSubParser;
  // CONNECT options, with nats-server's defaults before any CONNECT.
  headers = false;
  echo = true;
  #verbose = true;
  #pedantic = true;
  #noResponders = false;
  /** PINGs sent and not answered. */
  #pingsOut = 0;
  /** The router's serial after this client's last SUB, UNSUB or PUB (0 on one loop). */
  #interestSerial = 0;
  /** Writes a PONG held until the other loops know this client's subscriptions. */
  #pongLater: (() => void) | undefined;
  /** Whether the peer sent anything since the last ping period. */
  #active = false;
  #closed = false;
  readonly #context: ProtocolContext;
  /**
   * Where its login stands: `open` (the server does not authenticate, or it did), `awaiting`
   * its `CONNECT`, or `asking` the server's authenticator (operations wait meanwhile).
   */
  #login: "open" | "awaiting" | "asking" = "open";
  /** The nonce sent in `INFO`, which an nkey client signs. */
  #nonce = "";
  /** Bytes read while the authenticator is asked, kept in order (bounded). */
  #held: Uint8Array[] = [];
  #heldBytes = 0;
  #loginTimer: ReturnType<typeof setTimeout> | undefined;
  /** What the identity may do, when it has permissions. */
  #permissions: PermissionCheck | undefined;
  /** Set when the permissions filter deliveries or track reply subjects: see PubSubClient. */
  deliveryCheck: ((subject: Uint8Array, reply: Uint8Array) => boolean) | undefined;

  constructor(context: ProtocolContext, shared: Shared) {
    this.handle = context.handle;
    this.#id = context.id;
    this.#localAddr = context.localAddr;
    this.#context = context;
    this.#shared = shared;
    this.#router = shared.router;
    this.#parser = new PubSubParser(shared.parser);
  }

  open(): void {
    this.#shared.add(this);
    let auth: { nonce: string } | undefined;
    if (this.#context.authenticationRequired === true) {
      this.#login = "awaiting";
      this.#nonce = makeNonce();
      auth = { nonce: this.#nonce };
      this.#loginTimer = setTimeout(() => {
        this.#loginTimer = undefined;
        if (this.#login !== "open") {
          this.#fail(
            new AuthorizationViolationError("no login in time", "Authentication Timeout"),
          );
        }
      }, this.#shared.authTimeout);
    }
    this.handle.write(this.#shared.info(this.#id, this.#localAddr, auth));
    // INFO leaves in plaintext; the client then starts TLS (nats-server's default).
    if (this.#shared.tls === "upgrade" && (this.#context.listener ?? 0) === 0) {
      this.#context.startTls?.();
    }
  }

  data(chunk: Uint8Array): void {
    if (this.#closed) return;
    this.#active = true;
    if (this.#login === "asking") {
      this.#hold(chunk);
      return;
    }
    this.#parse(chunk);
  }

  /** Keeps what arrives while the authenticator is asked; a flood before login is cut. */
  #hold(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#heldBytes += chunk.length;
    if (this.#heldBytes > MAX_HELD_BEFORE_LOGIN) {
      this.#fail(new AuthorizationViolationError("too much sent before the login was checked"));
      return;
    }
    this.#held.push(chunk.slice());
  }

  #parse(chunk: Uint8Array): void {
    const parser = this.#parser;
    parser.feed(chunk);
    try {
      for (let op = parser.next(); op !== null; op = parser.next()) {
        if (this.#login === "awaiting" && op.kind !== "connect") {
          // As nats-server: where credentials are required, CONNECT comes first.
          this.#fail(new AuthorizationViolationError(`${op.kind} before CONNECT`));
          return;
        }
        switch (op.kind) {
          case "pub":
          case "hpub":
            this.#publish(op);
            break;
          case "sub":
            this.#subscribe(op);
            break;
          case "unsub":
            this.#router.unsubscribe(this, decoder.decode(op.sid), op.max);
            this.#interestSerial = this.#router.interestSerial;
            if (this.#verbose) this.handle.write(OK);
            break;
          case "ping":
            this.#pong();
            break;
          case "pong":
            this.#pingsOut = 0;
            break;
          case "connect":
            this.#connect(op.options);
            break;
        }
        if (this.#closed) return;
        if (this.#login === "asking") {
          // What follows the CONNECT waits for the authenticator's answer.
          this.#hold(parser.takeUnparsed());
          return;
        }
      }
    } catch (error) {
      if (!(error instanceof PubSubError)) throw error;
      this.#fail(error);
    }
  }

  goodbye(reason: Error): string | undefined {
    if (reason instanceof SlowConsumerError) return "-ERR 'Slow Consumer'\r\n";
    if (reason instanceof IdleTimeoutError) return "-ERR 'Stale Connection'\r\n";
    return undefined;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#loginTimer);
    this.#shared.delete(this);
    this.#router.removeClient(this);
  }

  /** A ping period passed: ping a silent peer, or close it when it left too many unanswered. */
  tick(): void {
    if (this.#active) {
      // It spoke since the last period: it is alive, no need to ask (as nats-server).
      this.#active = false;
      return;
    }
    if (this.#pingsOut >= this.#shared.maxPingsOut) {
      this.#fail(new StaleConnectionError(this.#pingsOut));
      return;
    }
    this.#pingsOut++;
    this.handle.write(PING);
  }

  #publish(op: PubSubOp): void {
    if (op.kind === "hpub" && !this.headers) throw new HeadersNotSupportedError();
    const subject = op.subject;
    const permissions = this.#permissions;
    if (permissions !== undefined) {
      const text = decoder.decode(subject);
      if (!permissions.mayPublish(text)) {
        this.#tell(new PermissionsViolationError(publishViolation(text)));
        return;
      }
    }
    if (this.#pedantic && !isLiteralSubject(subject)) {
      this.#tell(new InvalidSubjectError(decoder.decode(subject), "publish"));
    }
    if (this.#verbose) this.handle.write(OK);
    const count = this.#router.publish(this, subject, op.reply, op.payload, op.headerSize);
    // On several loops a flush (PING) after this publish waits until what it forwarded was
    // delivered on the other loops (0 on one loop: nothing to wait for).
    this.#interestSerial = this.#router.interestSerial;
    if (count === 0 && op.reply.length > 0 && this.#noResponders) {
      this.#router.noResponders(this, decoder.decode(op.reply));
    }
  }

  /**
   * Answers a PING. A client's flush (`PING`, then waiting for `PONG`) promises that its
   * subscriptions are in place: across loops, once every other loop has applied them, so the
   * PONG waits for that when they have not yet. PONGs keep the order of the PINGs.
   */
  #pong(): void {
    const serial = this.#interestSerial;
    if (serial === 0) {
      this.handle.write(PONG);
      return;
    }
    this.#pongLater ??= () => void this.handle.write(PONG);
    if (this.#router.whenInterestKnown(serial, this.#pongLater)) this.handle.write(PONG);
  }

  #subscribe(op: PubSubOp): void {
    const permissions = this.#permissions;
    if (permissions !== undefined) {
      const subject = decoder.decode(op.subject);
      const queue = decoder.decode(op.queue);
      if (!permissions.maySubscribe(subject, queue)) {
        this.#tell(new PermissionsViolationError(subscribeViolation(subject, queue)));
        return;
      }
    }
    const max = this.#shared.maxSubscriptions;
    if (this.#router.subscriptionsOf(this) >= max) {
      this.#tell(new TooManySubscriptionsError(max));
      return;
    }
    try {
      this.#router.subscribe(
        this,
        decoder.decode(op.subject),
        decoder.decode(op.sid),
        decoder.decode(op.queue),
      );
    } catch (error) {
      if (!(error instanceof InvalidSubjectError)) throw error;
      this.#tell(error);
      return;
    }
    this.#interestSerial = this.#router.interestSerial;
    if (this.#verbose) this.handle.write(OK);
  }

  #connect(json: Uint8Array): void {
    let options: unknown;
    try {
      options = JSON.parse(decoder.decode(json));
    } catch (cause) {
      throw new InvalidConnectError(`CONNECT options are not valid JSON: ${cause}`, undefined, {
        cause,
      });
    }
    if (typeof options !== "object" || options === null || Array.isArray(options)) {
      throw new InvalidConnectError("CONNECT options must be a JSON object");
    }
    const given = options as Record<string, unknown>;
    const flag = (name: string, current: boolean): boolean =>
      typeof given[name] === "boolean" ? given[name] as boolean : current;
    this.#verbose = flag("verbose", this.#verbose);
    this.#pedantic = flag("pedantic", this.#pedantic);
    this.echo = flag("echo", this.echo);
    this.headers = flag("headers", this.headers);
    this.#noResponders = flag("no_responders", this.#noResponders);
    if (this.#noResponders && !this.headers) {
      throw new InvalidConnectError(
        "CONNECT asks for no_responders without headers",
        "no responders requires headers support",
      );
    }
    if (this.#login === "awaiting") {
      this.#askAuthenticator(given);
      return;
    }
    if (this.#verbose) this.handle.write(OK);
  }

  /** Asks the server's authenticator about CONNECT's credentials; operations wait. */
  #askAuthenticator(given: Record<string, unknown>): void {
    this.#login = "asking";
    const credentials: Record<string, unknown> = { nonce: this.#nonce };
    for (const key of ["user", "pass", "auth_token", "nkey", "sig", "jwt", "name"]) {
      if (typeof given[key] === "string") credentials[key] = given[key];
    }
    this.#context.authenticate!("nats", credentials).then((result) => {
      if (this.#closed) return;
      if (isRefusal(result)) {
        this.#fail(new AuthorizationViolationError(result.refused));
        return;
      }
      if (result.grants !== undefined) {
        try {
          this.#grant(result.grants as PubSubPermissions);
        } catch (error) {
          this.#fail(new AuthorizationViolationError(`bad permissions: ${error}`));
          return;
        }
      }
      clearTimeout(this.#loginTimer);
      this.#loginTimer = undefined;
      this.#login = "open";
      if (this.#verbose) this.handle.write(OK);
      const held = this.#held;
      this.#held = [];
      this.#heldBytes = 0;
      for (const chunk of held) {
        if (this.#closed) return;
        this.#parse(chunk);
      }
    }).catch((error) => {
      // What data() would have thrown to the server: reported, and this connection closed.
      console.error(`speedo pubsub: ${describeError(error, true)}`);
      this.#closed = true;
      this.handle.close();
    });
  }

  /** Takes the identity's permissions; deliveries are checked only where they need it. */
  #grant(grants: PubSubPermissions): void {
    const permissions = new PermissionCheck(grants);
    this.#permissions = permissions;
    if (!permissions.filtersDeliveries && !permissions.tracksReplies) return;
    this.deliveryCheck = (subject, reply) => {
      if (permissions.filtersDeliveries && !permissions.mayReceive(decoder.decode(subject))) {
        return false;
      }
      if (reply.length > 0 && permissions.tracksReplies) {
        permissions.received(decoder.decode(reply));
      }
      return true;
    };
  }

  /** Tells the peer of an error that leaves the connection open. */
  #tell(error: PubSubError): void {
    this.#report(error);
    this.handle.write(`-ERR '${error.errText}'\r\n`);
  }

  /** Tells the peer of an error, then closes once that is flushed. */
  #fail(error: PubSubError): void {
    this.#tell(error);
    this.#closed = true;
    this.handle.close();
  }

  #report(error: PubSubError): void {
    try {
      this.#shared.onProtocolError?.(error, this.handle);
    } catch (thrown) {
      console.error(`speedo pubsub: onProtocolError threw ${describeError(thrown, true)}`);
    }
  }
}

/**
 * The pub/sub protocol: the NATS core client protocol (the subset in the module doc), so that
 * telnet and the official NATS clients both work. Each connection's operations are parsed and
 * routed inline on the I/O thread through the protocol's one {@linkcode SubjectRouter}; nothing
 * is dispatched to message handlers.
 *
 * ```
 * server: INFO {"server_id":"N…","version":"2.10.0","proto":1,"headers":true,…}
 * client: SUB greet.* 1              client: PUB greet.joe 5
 * client: PING                               hello
 * server: PONG                       server: MSG greet.joe 1 5
 *                                            hello
 * ```
 *
 * @param options Limits, pings, `INFO` fields, and the router.
 * @returns The protocol handler factory, with its router.
 * @throws {RangeError} When a limit is out of range.
 *
 * @example Two clients over in-memory connections
 * ```ts
 * import { pubsubProtocol } from "@speedo/speedo/pubsub";
 * import { MemoryTransport } from "@speedo/speedo/testing";
 * import { assertEquals, assertStringIncludes } from "@std/assert";
 *
 * const protocol = pubsubProtocol({ pingInterval: 0 });
 * const subscriber = new MemoryTransport(1);
 * const publisher = new MemoryTransport(2);
 * const sub = protocol.create(subscriber);
 * const pub = protocol.create(publisher);
 * sub.open?.();
 * pub.open?.();
 * const bytes = (text: string) => new TextEncoder().encode(text);
 * sub.data(bytes('CONNECT {"verbose":false}\r\nSUB greet.* 1\r\n'));
 * pub.data(bytes('CONNECT {"verbose":false}\r\nPUB greet.joe 5\r\nhello\r\n'));
 * assertStringIncludes(subscriber.text(), "MSG greet.joe 1 5\r\nhello\r\n");
 * assertEquals(protocol.router.delivered, 1);
 * sub.close?.();
 * pub.close?.();
 * ```
 */
export function pubsubProtocol(options: PubSubProtocolOptions = {}): PubSubProtocol {
  const parser: Required<PubSubParserOptions> = {
    maxControlLine: options.maxControlLine ?? DEFAULT_MAX_CONTROL_LINE,
    maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
  };
  // Checked now, so a bad option fails at construction rather than at the first connection.
  new PubSubParser(parser);
  const pingInterval = options.pingInterval ?? 120_000;
  if (!Number.isInteger(pingInterval) || pingInterval < 0) {
    throw new RangeError(`pingInterval must be a non-negative integer, got ${pingInterval}`);
  }
  const maxPingsOut = options.maxPingsOut ?? 2;
  if (!Number.isInteger(maxPingsOut) || maxPingsOut < 1) {
    throw new RangeError(`maxPingsOut must be a positive integer, got ${maxPingsOut}`);
  }
  const maxSubscriptions = options.maxSubscriptions ?? DEFAULT_MAX_SUBSCRIPTIONS;
  if (!Number.isInteger(maxSubscriptions) || maxSubscriptions < 0) {
    throw new RangeError(
      `maxSubscriptions must be a non-negative integer, got ${maxSubscriptions}`,
    );
  }
  const version = options.version ?? PUBSUB_SERVER_VERSION;
  const semver = /^(\d+)\.\d+\.\d+/.exec(version);
  if (semver === null || Number(semver[1]) < 2) {
    throw new RangeError(`version must be a semver of at least 2.0.0, got "${version}"`);
  }
  if (options.backplane !== undefined) checkBackplaneOptions(options.backplane);
  const router = options.router ?? new SubjectRouter();
  let joined = false;
  const serverId = options.serverId ?? randomServerId();
  const fields = {
    server_id: serverId,
    server_name: options.serverName ?? serverId,
    version,
    proto: 1,
    go: `speedo (deno ${Deno.version.deno})`,
    headers: true,
    max_payload: parser.maxPayload,
  };
  const tls = options.tls;
  if (tls !== undefined && tls !== "upgrade" && tls !== "handshake-first") {
    throw new TypeError(`tls must be "upgrade" or "handshake-first", got ${JSON.stringify(tls)}`);
  }
  const authTimeout = options.authTimeout ?? 2000;
  if (!Number.isInteger(authTimeout) || authTimeout < 1) {
    throw new RangeError(`authTimeout must be a positive integer, got ${authTimeout}`);
  }
  const info = (
    id: number,
    localAddr: Deno.Addr | undefined,
    auth: { nonce: string } | undefined,
  ): string => {
    // The address given, else the one this client connected to (on any loop, any listener).
    const address = options.address?.() ?? localAddr;
    const unix = address?.transport === "unix";
    const json = JSON.stringify({
      ...fields,
      host: address !== undefined && "hostname" in address ? address.hostname : "0.0.0.0",
      port: address !== undefined && "port" in address ? address.port : unix ? 0 : 4222,
      client_id: id,
      ...(auth === undefined ? {} : { auth_required: true, nonce: auth.nonce }),
      ...(tls === undefined ? {} : { tls_required: true }),
    });
    return `INFO ${json}\r\n`;
  };

  const live = new Set<PubSubConnection>();
  let timer: ReturnType<typeof setInterval> | undefined;
  const tick = () => {
    for (const connection of live) connection.tick();
  };
  const shared: Shared = {
    router,
    parser,
    info,
    tls,
    authTimeout,
    onProtocolError: options.onProtocolError,
    maxPingsOut,
    maxSubscriptions: maxSubscriptions === 0 ? Infinity : maxSubscriptions,
    add(connection) {
      live.add(connection);
      // One timer for all connections, running only while there are some.
      if (pingInterval > 0 && timer === undefined) timer = setInterval(tick, pingInterval);
    },
    delete(connection) {
      live.delete(connection);
      if (live.size === 0 && timer !== undefined) {
        clearInterval(timer);
        timer = undefined;
      }
    },
  };
  const refusal = encoder.encode("-ERR 'maximum connections exceeded'\r\n");
  return {
    router,
    get connections() {
      return live.size;
    },
    create: (context) => new PubSubConnection(context, shared),
    refusal: () => refusal,
    startsTls: (listener) => tls === "upgrade" && listener === 0,
    recipe: recipeOf(options, serverId),
    attach: (loop) => {
      if (options.backplane === undefined) {
        router.attach(loop);
        return;
      }
      // Each loop is a client of the backplane on its own connections, and the loops do not
      // exchange interest or messages: nats-server delivers between them as between servers
      // (another loop's connections are not this one's, so echo:false does not hide them),
      // and forwarding over the bus as well would deliver twice.
      router.joinBackplane(options.backplane);
      joined = true;
    },
    close: async () => {
      if (joined) await router.closeBackplane();
    },
  };
}

/**
 * The recipe of a protocol made with `options`: they are cloned to each loop, so there is
 * none when they hold a router or a function (other than `address`, left out).
 */
function recipeOf(options: PubSubProtocolOptions, serverId: string): ProtocolRecipe | undefined {
  if (options.router !== undefined) return undefined;
  const { address: _address, ...rest } = options;
  const cloned = { ...rest, serverId };
  try {
    structuredClone(cloned);
  } catch {
    return undefined;
  }
  return { module: import.meta.url, export: "pubsubProtocol", options: cloned };
}

/** Whether a subject is valid to publish to under `pedantic`: non-empty tokens, no wildcards. */
function isLiteralSubject(subject: Uint8Array): boolean {
  let tokenStart = 0;
  for (let i = 0; i <= subject.length; i++) {
    if (i < subject.length && subject[i] !== DOT) continue;
    const length = i - tokenStart;
    if (length === 0) return false;
    if (length === 1 && (subject[tokenStart] === STAR || subject[tokenStart] === GT)) return false;
    tokenStart = i + 1;
  }
  return true;
}

/** 56 characters of base 32 after an "N", like nats-server's server ids. */
function randomServerId(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const bytes = crypto.getRandomValues(new Uint8Array(55));
  return "N" + Array.from(bytes, (byte) => alphabet[byte & 31]).join("");
}
