/**
 * The MQTT codec on the QoS 1 hot path: a PUBLISH decoded and encoded at level 4, and its
 * PUBACK. Each group has a baseline beside it: the topic as `TextDecoder`/`TextEncoder` would
 * handle it (what the reader and writer did before their short-ASCII path).
 *
 * `deno bench -A bench/mqtt_codec_bench.ts`
 *
 * @module
 */

import { encodePublish, encodePublishAck, MqttDecoder } from "../protocols/mqtt/mod.ts";

const payload = new Uint8Array(100).fill(0x78);
const publish = {
  type: "publish",
  dup: false,
  qos: 1,
  retain: false,
  topic: "load/173",
  packetId: 42,
  payload,
} as const;
const bytes = encodePublish(publish, 4);
const decoder = new MqttDecoder({ protocolLevel: 4 });
const topicBytes = new TextEncoder().encode(publish.topic);
const textDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const textEncoder = new TextEncoder();
const into = new Uint8Array(64);

Deno.bench({ name: "topic: short-ASCII path", group: "topic decode", baseline: true }, () => {
  let text = "";
  for (let i = 0; i < topicBytes.length; i++) text += String.fromCharCode(topicBytes[i]);
  if (text.length !== 8) throw new Error("bad");
});
Deno.bench({ name: "topic: TextDecoder", group: "topic decode" }, () => {
  if (textDecoder.decode(topicBytes).length !== 8) throw new Error("bad");
});
Deno.bench({ name: "topic: charCodeAt copy", group: "topic encode", baseline: true }, () => {
  for (let i = 0; i < publish.topic.length; i++) into[i] = publish.topic.charCodeAt(i);
});
Deno.bench({ name: "topic: TextEncoder.encodeInto", group: "topic encode" }, () => {
  textEncoder.encodeInto(publish.topic, into.subarray(0, publish.topic.length));
});
Deno.bench({ name: "decode a QoS 1 PUBLISH (level 4)", group: "packets" }, () => {
  decoder.feed(bytes);
  if (decoder.next()?.type !== "publish") throw new Error("bad");
});
Deno.bench({ name: "encode a QoS 1 PUBLISH (level 4)", group: "packets" }, () => {
  encodePublish(publish, 4);
});
Deno.bench({ name: "encode a PUBACK (level 4)", group: "packets" }, () => {
  encodePublishAck({ type: "puback", packetId: 42, reasonCode: 0 }, 4);
});
