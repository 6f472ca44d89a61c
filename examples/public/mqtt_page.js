// A small MQTT 3.1.1 client over WebSocket, enough for this page: the packets travel in binary
// WebSocket messages (subprotocol "mqtt") that form one byte stream, a packet possibly spanning
// messages. Every packet is a type byte, its remaining length, then that many bytes:
//
//   +--------------+------------------------------+-------------------+
//   | type | flags | remaining length (1-4 bytes,  | variable header   |
//   |  4b  |  4b   | 7 bits each, high bit "more") | and payload       |
//   +--------------+------------------------------+-------------------+
//
//   page:   CONNECT (clean session, keep alive 60)     server: CONNACK 0
//   page:   SUBSCRIBE id filter QoS 0                  server: SUBACK id 0 (or 0x80: refused)
//   page:   PUBLISH topic payload (QoS 0)              server: PUBLISH topic payload
//   page:   PINGREQ, every 30 s                        server: PINGRESP
import { listSubscription, logLine } from "./page_parts.js";

const status = document.getElementById("status");
const log = document.getElementById("log");
const subscriptions = document.getElementById("subscriptions");
const subscribeForm = document.getElementById("subscribe");
const filterInput = document.getElementById("filter");
const publishForm = document.getElementById("publish");
const pubTopicInput = document.getElementById("pub-topic");
const pubDataInput = document.getElementById("pub-data");

const CONNECT = 0x10, CONNACK = 0x20, PUBLISH = 0x30, SUBSCRIBE = 0x82, SUBACK = 0x90;
const UNSUBSCRIBE = 0xa2, PINGREQ = 0xc0, DISCONNECT = 0xe0;
const KEEP_ALIVE = 60;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const scheme = location.protocol === "https:" ? "wss:" : "ws:";
const socket = new WebSocket(`${scheme}//${location.host}/mqtt`, "mqtt");
socket.binaryType = "arraybuffer";

/** Bytes received and not parsed yet. */
let buffer = new Uint8Array(0);
let nextId = 1;
/** The SUBSCRIBEs awaiting their SUBACK, by packet id: their filters. */
const pending = new Map();

function show(kind, text) {
  logLine(log, kind, text);
}

/** A UTF-8 string as MQTT writes it: its length in two bytes, then its bytes. */
function string(text) {
  const bytes = encoder.encode(text);
  return [bytes.length >> 8, bytes.length & 0xff, ...bytes];
}

/** Sends a packet: the type byte, the remaining length (7 bits a byte), the body. */
function send(type, body = []) {
  if (socket.readyState !== WebSocket.OPEN) return false;
  const length = [];
  let n = body.length;
  do {
    length.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>= 7;
  } while (n > 0);
  socket.send(new Uint8Array([type, ...length, ...body]));
  return true;
}

/** Handles every whole packet in the buffer; a partial one waits for more bytes. */
function parse() {
  for (;;) {
    let length = 0, at = 1, shift = 0, byte;
    do {
      if (at >= buffer.length) return;
      byte = buffer[at++];
      length |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    if (buffer.length < at + length) return;
    const type = buffer[0];
    const body = buffer.subarray(at, at + length);
    buffer = buffer.subarray(at + length);
    received(type, body);
  }
}

function received(type, body) {
  switch (type & 0xf0) {
    case CONNACK:
      status.textContent = body[1] === 0 ? "connected" : `refused (return code ${body[1]})`;
      break;
    case PUBLISH: {
      const topicLength = (body[0] << 8) | body[1];
      const topic = decoder.decode(body.subarray(2, 2 + topicLength));
      // QoS 1 and 2 carry a packet id; this page subscribes at QoS 0, so none comes.
      const start = 2 + topicLength + ((type & 0x06) === 0 ? 0 : 2);
      show("received", `${topic}: ${decoder.decode(body.subarray(start))}`);
      break;
    }
    case SUBACK: {
      const filter = pending.get((body[0] << 8) | body[1]);
      pending.delete((body[0] << 8) | body[1]);
      if (body[2] === 0x80) show("error", `subscription to ${filter} refused`);
      else subscribed(filter);
      break;
    }
  }
}

/** Lists a granted subscription, with a button that ends it. */
function subscribed(filter) {
  listSubscription(subscriptions, filter, "filter", () => {
    send(UNSUBSCRIBE, [nextId >> 8, nextId & 0xff, ...string(filter)]);
    nextId = nextId % 0xffff + 1;
  });
}

socket.onopen = () => {
  const clientId = `speedo-page-${Math.random().toString(36).slice(2, 10)}`;
  // Protocol name, level 4, flags (clean session), keep alive; the payload is the client id.
  send(CONNECT, [...string("MQTT"), 4, 0x02, 0, KEEP_ALIVE, ...string(clientId)]);
  setInterval(() => send(PINGREQ), KEEP_ALIVE * 500);
};
socket.onmessage = (event) => {
  const chunk = new Uint8Array(event.data);
  const joined = new Uint8Array(buffer.length + chunk.length);
  joined.set(buffer);
  joined.set(chunk, buffer.length);
  buffer = joined;
  parse();
};
socket.onclose = (event) => status.textContent = `closed (${event.code})`;
socket.onerror = () => status.textContent = "error";
addEventListener("pagehide", () => send(DISCONNECT));

subscribeForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const filter = filterInput.value.trim();
  if (filter === "" || subscriptions.querySelector(`[data-filter="${CSS.escape(filter)}"]`)) return;
  const id = nextId;
  if (!send(SUBSCRIBE, [id >> 8, id & 0xff, ...string(filter), 0])) return;
  nextId = nextId % 0xffff + 1;
  pending.set(id, filter);
  filterInput.value = "";
});

publishForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const topic = pubTopicInput.value.trim();
  const data = pubDataInput.value;
  if (topic === "" || !send(PUBLISH, [...string(topic), ...encoder.encode(data)])) return;
  show("sent", `${topic}: ${data}`);
  pubDataInput.value = "";
});
