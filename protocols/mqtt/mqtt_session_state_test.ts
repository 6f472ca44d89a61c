import { assertEquals, assertThrows } from "@std/assert";
import { type Send, SessionState, SessionStateError } from "./mqtt_session_state.ts";

interface Note {
  qos: 0 | 1 | 2;
  size: number;
  text: string;
}

const note = (text: string, qos: 0 | 1 | 2 = 1, size = 1): Note => ({ qos, size, text });
const show = (sends: Send<Note>[]) =>
  sends.map((send) =>
    send.kind === "pubrel"
      ? `pubrel ${send.packetId}`
      : `publish ${send.packetId} ${send.message.text}${send.dup ? " dup" : ""}`
  );

Deno.test("SessionState: QoS 1 fills the window, the rest waits in order", () => {
  const state = new SessionState<Note>();
  assertEquals(show(state.connect(2)), []);
  assertEquals(show(state.owe(note("a"))), ["publish 1 a"]);
  assertEquals(show(state.owe(note("b"))), ["publish 2 b"]);
  assertEquals(show(state.owe(note("c"))), []);
  assertEquals(state.queued, 1);
  assertEquals(show(state.puback(2)), ["publish 3 c"]);
  assertEquals(show(state.puback(1)), []);
  assertEquals(state.inFlight, 1);
});

Deno.test("SessionState: QoS 2 goes PUBLISH, PUBREC -> PUBREL, PUBCOMP", () => {
  const state = new SessionState<Note>();
  state.connect(1);
  assertEquals(show(state.owe(note("a", 2))), ["publish 1 a"]);
  assertEquals(show(state.owe(note("b", 2))), []);
  assertEquals(show(state.pubrec(1)), ["pubrel 1"]);
  assertEquals(show(state.pubrec(1)), ["pubrel 1"], "a repeated PUBREC is answered again");
  assertEquals(show(state.pubcomp(1)), ["publish 2 b"]);
  assertThrows(() => state.pubcomp(1), SessionStateError);
  assertThrows(() => state.puback(2), SessionStateError);
});

Deno.test("SessionState: a reconnect sends what is in flight again, in order, then the queue", () => {
  const state = new SessionState<Note>();
  state.connect(2);
  state.owe(note("a", 2));
  state.owe(note("b", 1));
  state.owe(note("c", 1));
  state.pubrec(1);
  state.disconnect();
  assertEquals(show(state.owe(note("d", 1))), [], "away: it waits");
  assertEquals(show(state.owe(note("z", 0))), [], "away: QoS 0 is not kept by default");
  assertEquals(show(state.connect(3)), ["pubrel 1", "publish 2 b dup", "publish 3 c"]);
  assertEquals(show(state.pubcomp(1)), ["publish 4 d"]);
});

Deno.test("SessionState: QoS 0 goes at once online, behind the queue when one waits", () => {
  const state = new SessionState<Note>();
  state.connect(1);
  assertEquals(show(state.owe(note("x", 0))), ["publish 0 x"]);
  state.owe(note("a", 1));
  state.owe(note("b", 1));
  assertEquals(show(state.owe(note("y", 0))), [], "behind b, to keep the order");
  // y needs no place in the window: it follows b at once, in order.
  assertEquals(show(state.puback(1)), ["publish 2 b", "publish 0 y"]);
  assertEquals(show(state.puback(2)), []);
});

Deno.test("SessionState: the queue is bounded in messages and bytes; drops are counted", () => {
  const state = new SessionState<Note>({ maxQueuedMessages: 2, maxQueuedBytes: 10 });
  state.owe(note("a"));
  state.owe(note("b"));
  state.owe(note("c"));
  assertEquals([state.queued, state.dropped], [2, 1]);
  const bytes = new SessionState<Note>({ maxQueuedBytes: 10 });
  bytes.owe(note("big", 1, 8));
  bytes.owe(note("more", 1, 3));
  assertEquals([bytes.queued, bytes.queuedBytes, bytes.dropped], [1, 8, 1]);
});

Deno.test("SessionState: incoming QoS 2 is delivered once until PUBREL", () => {
  const state = new SessionState<Note>({ maxIncomingQos2: 2 });
  assertEquals(state.receiveQos2(7), true);
  assertEquals(state.receiveQos2(7), false, "a DUP before PUBREL is not delivered again");
  assertEquals(state.release(7), true);
  assertEquals(state.release(7), false, "a repeated PUBREL is still answered");
  assertEquals(state.receiveQos2(7), true, "after PUBREL the id is a new message");
  state.receiveQos2(8);
  assertThrows(() => state.receiveQos2(9), SessionStateError);
});

Deno.test("SessionState: packet ids skip those in flight and wrap after 65535", () => {
  const state = new SessionState<Note>({ maxQueuedMessages: 70_000 });
  state.connect(65_535);
  for (let i = 0; i < 65_535; i++) state.owe(note(`m${i}`));
  assertEquals(state.inFlight, 65_535);
  state.puback(3);
  assertEquals(show(state.owe(note("next"))), ["publish 3 next"]);
});

Deno.test("SessionState: bad bounds are refused", () => {
  assertThrows(() => new SessionState({ maxQueuedMessages: 0 }), RangeError);
});
