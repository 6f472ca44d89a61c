// A small NATS client over WebSocket, enough for this page: the NATS text protocol, carried in
// WebSocket messages whose payloads form one byte stream (an operation may span messages).
//
//   server: INFO {...}                  page: CONNECT {...}
//   page:   SUB greet.* 1               page: PUB greet.joe 5
//   page:   PING                              hello
//   server: PONG (subscribed)           server: MSG greet.joe 1 5
//                                               hello

import { listSubscription, logLine } from "./page_parts.js";

const status = document.getElementById("status");
const log = document.getElementById("log");
const subscriptions = document.getElementById("subscriptions");
const subscribeForm = document.getElementById("subscribe");
const subjectInput = document.getElementById("subject");
const publishForm = document.getElementById("publish");
const pubSubjectInput = document.getElementById("pub-subject");
const pubDataInput = document.getElementById("pub-data");

const path = new URLSearchParams(location.search).get("path") ?? "/nats";
document.getElementById("path").textContent = path;
const scheme = location.protocol === "https:" ? "wss:" : "ws:";
const socket = new WebSocket(`${scheme}//${location.host}${path}`);
socket.binaryType = "arraybuffer";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CONNECT = {
  verbose: false,
  pedantic: false,
  headers: false,
  echo: true,
  name: "speedo pubsub page",
  lang: "javascript",
  version: "1.0.0",
  protocol: 1,
};

/** Bytes received and not parsed yet. */
let buffer = new Uint8Array(0);
/** The MSG whose payload is awaited. */
let message = null;
/** Called at each PONG, in order: each PING sent waits for one. */
const pongs = [];
/** Errors the server told so far. */
let errors = 0;
let nextSid = 1;
const subjects = new Map();

function show(kind, text) {
  logLine(log, kind, text);
}

function send(text, payload) {
  if (socket.readyState !== WebSocket.OPEN) return false;
  const head = encoder.encode(text);
  const bytes = new Uint8Array(head.length + (payload ? payload.length + 2 : 0));
  bytes.set(head);
  if (payload) {
    bytes.set(payload, head.length);
    bytes.set([13, 10], head.length + payload.length);
  }
  socket.send(bytes);
  return true;
}

/** Resolves once the server has handled everything sent before. */
function flush() {
  return new Promise((resolve) => {
    pongs.push(resolve);
    send("PING\r\n");
  });
}

function append(chunk) {
  const joined = new Uint8Array(buffer.length + chunk.length);
  joined.set(buffer);
  joined.set(chunk, buffer.length);
  buffer = joined;
}

function parse() {
  for (;;) {
    if (message !== null) {
      if (buffer.length < message.size + 2) return;
      const data = decoder.decode(buffer.subarray(0, message.size));
      buffer = buffer.subarray(message.size + 2);
      show("received", `${message.subject}: ${data}`);
      message = null;
      continue;
    }
    const end = buffer.indexOf(10);
    if (end < 0) return;
    const line = decoder.decode(buffer.subarray(0, end)).replace(/\r$/, "");
    buffer = buffer.subarray(end + 1);
    const [op, ...args] = line.split(" ");
    switch (op.toUpperCase()) {
      case "MSG": // MSG <subject> <sid> [reply-to] <#bytes>
        message = { subject: args[0], size: Number(args[args.length - 1]) };
        break;
      case "PING":
        send("PONG\r\n");
        break;
      case "PONG":
        pongs.shift()?.();
        break;
      case "INFO":
        status.textContent = `connected to ${JSON.parse(line.slice(5)).server_name.slice(0, 8)}…`;
        send(`CONNECT ${JSON.stringify(CONNECT)}\r\n`);
        break;
      case "-ERR":
        errors++;
        show("error", line);
        break;
    }
  }
}

socket.onmessage = (event) => {
  append(typeof event.data === "string" ? encoder.encode(event.data) : new Uint8Array(event.data));
  parse();
};
socket.onclose = (event) => status.textContent = `closed (${event.code})`;
socket.onerror = () => status.textContent = "error";

subscribeForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const subject = subjectInput.value.trim();
  if (subject === "" || [...subjects.values()].includes(subject)) return;
  const sid = nextSid++;
  const before = errors;
  if (!send(`SUB ${subject} ${sid}\r\n`)) return;
  subjectInput.value = "";
  await flush();
  if (errors !== before) return; // the server said why (an invalid subject, say)
  subjects.set(sid, subject);
  listSubscription(subscriptions, subject, "subject", () => {
    send(`UNSUB ${sid}\r\n`);
    subjects.delete(sid);
  });
});

publishForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const subject = pubSubjectInput.value.trim();
  const data = encoder.encode(pubDataInput.value);
  if (subject === "" || !send(`PUB ${subject} ${data.length}\r\n`, data)) return;
  show("sent", `${subject}: ${pubDataInput.value}`);
  pubDataInput.value = "";
});
