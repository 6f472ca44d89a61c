/**
 * The MQTT 3.1.1 and 5.0 packet layer: types of every control packet, a streaming bounded
 * decoder, and encoders for both protocol levels, in both directions (a broker and a test
 * client use the same code).
 *
 * ```ts
 * import { encodePublish, MqttDecoder } from "@speedo/speedo/mqtt";
 * import { assertEquals } from "@std/assert";
 *
 * const decoder = new MqttDecoder({ protocolLevel: 5 });
 * decoder.feed(encodePublish({
 *   type: "publish",
 *   dup: false,
 *   qos: 1,
 *   retain: false,
 *   topic: "sensors/1",
 *   packetId: 7,
 *   properties: { contentType: "text/plain" },
 *   payload: new TextEncoder().encode("21.5"),
 * }, 5));
 * const packet = decoder.next();
 * assertEquals(packet?.type === "publish" && packet.properties?.contentType, "text/plain");
 * ```
 *
 * @module
 */

export * from "./mqtt_packets.ts";
export * from "./reason_codes.ts";
export * from "./mqtt_errors.ts";
export * from "./mqtt_decoder.ts";
export * from "./mqtt_encoder.ts";
export * from "./mqtt_topics.ts";
export * from "./mqtt_topic_errors.ts";
export * from "./subscription_tree.ts";
export * from "./retained_messages.ts";
export * from "./mqtt_session_state.ts";
export * from "./server_topic_aliases.ts";
export * from "./mqtt_broker.ts";
export * from "./mqtt_enhanced_auth.ts";
export * from "./scram_sha256.ts";
export * from "./mqtt_protocol.ts";
export * from "./mqtt_server.ts";
export * from "./mqtt_store.ts";
export * from "./sqlite_store.ts";
export * from "./mqtt_persistence.ts";
export * from "./nats_subjects.ts";
export * from "./pubsub_bridge.ts";
