/**
 * What a monitor reads besides servers: the state pub/sub and MQTT keep of their
 * subscriptions, for `/subsz` and the metrics. Each is described by the few public fields the
 * monitor reads, so a {@linkcode SubjectRouter} (`pubsubProtocol().router`) and an MQTT
 * `Broker` (`mqttProtocol().broker`) fit as they are.
 *
 * @module
 */

/** One pub/sub subscription, as the monitor lists it (a `Subscription` of the router). */
export interface PubSubSubscriptionLike {
  /** Its client: the connection's handle gives its id. */
  readonly client: { readonly handle: { readonly id: number } };
  /** The subject, with wildcards. */
  readonly subject: string;
  /** The queue group, or `""`. */
  readonly queue: string;
  /** The id its client gave it. */
  readonly sid: string;
  /** Messages delivered to it. */
  readonly delivered: number;
  /** Deliveries after which it ends, or 0. */
  readonly max: number;
}

/** The pub/sub state a monitor reads: a {@linkcode SubjectRouter} fits. */
export interface PubSubSource {
  /** Subscriptions held now. */
  readonly size: number;
  /** Messages published so far. */
  readonly published: number;
  /** Deliveries so far. */
  readonly delivered: number;
  /** Every subscription held now. */
  subscriptions(): Iterable<PubSubSubscriptionLike>;
}

/** One MQTT session, as the monitor reads it (the broker's `Session`). */
export interface MqttSessionLike {
  /** Its client identifier. */
  readonly clientId: string;
  /** Its client's connection, or `undefined` while it has none. */
  readonly link: unknown;
}

/** One subscription of an MQTT session (the tree's `SubscriptionEntry`). */
export interface MqttSubscriptionLike {
  /** Its topic filter. */
  readonly filter: string;
  /** Its options; the monitor shows the QoS. */
  readonly options: { readonly qos: number };
}

/** The MQTT state a monitor reads: an MQTT `Broker` (`mqttProtocol().broker`) fits. */
export interface MqttSource {
  /** Sessions by client identifier. */
  readonly sessions: ReadonlyMap<string, MqttSessionLike>;
  /** The subscriptions of every session. */
  readonly tree: {
    /** Subscriptions held now. */
    readonly size: number;
    /** One session's subscriptions. */
    subscriptionsOf(session: MqttSessionLike): readonly MqttSubscriptionLike[];
  };
  /** Retained messages. */
  readonly retained: { readonly size: number };
  /** Messages routed so far. */
  readonly published: number;
  /** Deliveries owed to sessions so far. */
  readonly delivered: number;
}

/** The subscription state a monitor reads, by kind; each is optional. */
export interface MonitorSources {
  /** A pub/sub router: `pubsubProtocol().router`, or the `router` given to `pubsubServer`. */
  pubsub?: PubSubSource;
  /** An MQTT broker: `mqttProtocol().broker`, or the `broker` given to `mqttServer`. */
  mqtt?: MqttSource;
}
