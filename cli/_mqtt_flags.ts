/**
 * The MQTT broker's flags, shared by `speedo serve mqtt` and `examples/mqtt.ts`: one table of
 * flags ({@linkcode MQTT_FLAGS}) and the server options they make ({@linkcode mqttOptions}).
 * A new broker option is one entry in each (as `--store` and `--topic-aliases` are).
 *
 * @module
 */

import {
  FlagError,
  type FlagValues,
  integerFlag,
  listFlag,
  MAX_BYTES,
  textFlag,
} from "./_flags.ts";
import type { MqttServerOptions } from "../protocols/mqtt/mqtt_server.ts";
import {
  parseSharedFilter,
  topicMatches,
  validTopicFilter,
} from "../protocols/mqtt/mqtt_topics.ts";
import { MqttStoreError } from "../protocols/mqtt/mqtt_store.ts";

/** The broker's flags, by name. */
export const MQTT_FLAGS = {
  "max-packet-size": integerFlag({
    default: 1048576,
    min: 1,
    max: MAX_BYTES,
    help: "largest packet a client may send, in bytes",
  }),
  "max-keepalive": integerFlag({
    default: 0,
    min: 0,
    max: 65535,
    help: "longest keep alive granted, in seconds; 0: what the client asks",
  }),
  "topic-aliases": integerFlag({
    default: 0,
    min: 0,
    max: 65535,
    help: "topic aliases set towards each MQTT 5 client (at most its own maximum); 0: none",
  }),
  user: textFlag({
    placeholder: "USER",
    help: "the user name clients must log in with (with --pass)",
  }),
  pass: textFlag({ placeholder: "PASS", help: "the password of --user" }),
  store: textFlag({
    placeholder: "FILE",
    help:
      "an SQLite file where persistent sessions, what they are owed and retained messages survive a restart (made when absent)",
  }),
  "deny-subscribe": listFlag(
    "a topic filter no client may subscribe within (its own wildcards count as written)",
    "FILTER",
    { check: validTopicFilter, requirement: "be a valid MQTT topic filter" },
  ),
};

/** What the broker's flags set of `mqttServer`'s options. */
export type MqttFlagOptions = Pick<MqttServerOptions, "authenticate"> & {
  mqtt: NonNullable<MqttServerOptions["mqtt"]>;
};

/**
 * The options of `mqttServer` that the broker's flags set.
 *
 * @param values The values of {@linkcode MQTT_FLAGS}.
 * @returns `authenticate` (with `--user`) and the broker's options in `mqtt`.
 * @throws {FlagError} When `--user` or `--pass` is given without the other.
 *
 * @example
 * ```ts
 * import { MQTT_FLAGS, mqttOptions } from "./_mqtt_flags.ts";
 * import { parseFlags } from "./_flags.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const values = parseFlags(["--max-keepalive", "60", "--deny-subscribe", "secret/#"], { name: "speedo serve mqtt", summary: "" }, MQTT_FLAGS)!;
 * const { mqtt } = mqttOptions(values);
 * assertEquals(mqtt.maxKeepAlive, 60);
 * const ask = (topic: string) => mqtt.authorize!({ action: "subscribe", topic, clientId: "c" });
 * assertEquals([ask("secret/+"), ask("$share/g/secret/a"), ask("#")], [false, false, true]);
 * ```
 */
export function mqttOptions(values: FlagValues<typeof MQTT_FLAGS>): MqttFlagOptions {
  const { user, pass } = values;
  const denied = values["deny-subscribe"];
  if ((user === undefined) !== (pass === undefined)) {
    throw new FlagError("--user and --pass go together");
  }
  return {
    ...(user === undefined ? {} : {
      authenticate: ({ credentials }) =>
        credentials.username === user && credentials.password === pass
          ? { name: user }
          : { refused: "bad user name or password" },
    }),
    mqtt: {
      maxPacketSize: values["max-packet-size"],
      maxKeepAlive: values["max-keepalive"],
      serverTopicAliases: values["topic-aliases"],
      ...(values.store === undefined ? {} : { store: values.store }),
      ...(denied.length === 0 ? {} : {
        // A subscription is refused when a denied filter covers it, its wildcards read as
        // written (`secret/#` covers `secret/+` and `secret/a`, not `#`).
        authorize: ({ action, topic }) => {
          if (action !== "subscribe") return true;
          const filter = parseSharedFilter(topic)?.filter ?? topic;
          return !denied.some((deny) => topicMatches(deny, filter));
        },
      }),
    },
  };
}

/**
 * Makes an MQTT server, with a store that cannot be used (not a store, damaged, newer, locked)
 * said as a bad `--store`.
 *
 * @param make Makes the server.
 * @returns What `make` returned.
 * @throws {FlagError} `--store: ...`, when `make` threw an `MqttStoreError`.
 */
export function storeChecked<T>(make: () => T): T {
  try {
    return make();
  } catch (error) {
    if (error instanceof MqttStoreError) throw new FlagError(`--store: ${error.message}`);
    throw error;
  }
}
