import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { kindOf, LoopMesh, type MeshMessage, type MeshPeer } from "./_loop_mesh_test_helper.ts";
import { MemoryTransport } from "../../testing/memory_transport.ts";
import { pubsubProtocol } from "./pubsub_protocol.ts";

const QUIET = 'CONNECT {"verbose":false,"pedantic":false}\r\n';
const HEADERS = 'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\n';
const REQUESTER =
  'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true}\r\n';

/** Chunk sizes from the whole input down to one byte. */
function everyChunkSize(text: string): number[] {
  const length = new TextEncoder().encode(text).length;
  return Array.from({ length }, (_, i) => length - i);
}

/** The MSG/HMSG lines in a connection's output, each as its fields. */
function messageLines(text: string): string[][] {
  return text.split("\r\n").filter((line) => /^H?MSG /.test(line)).map((line) => line.split(" "));
}

/** Messages on the mesh as `from>to kind`. */
function kinds(messages: readonly MeshMessage[]): string[] {
  return messages.map(({ from, to, message }) => `${from}>${to} ${kindOf(message)}`);
}

function closeAll(...peers: MeshPeer[]): void {
  for (const peer of peers) peer.close();
}

Deno.test("pubsubProtocol across loops: a publish reaches every loop's subscribers once, headers and reply kept, at every chunk size", async () => {
  const input = HEADERS +
    "PUB a.b reply.1 5\r\nhello\r\nHPUB a.b 12 14\r\nNATS/1.0\r\n\r\nhi\r\n";
  for (const size of everyChunkSize(input)) {
    const mesh = new LoopMesh(3);
    const local = mesh.peer(0, 1);
    const modern = mesh.peer(1, 2);
    const legacy = mesh.peer(2, 3);
    const legacyToo = mesh.peer(2, 4);
    local.send(QUIET + "SUB a.b 1\r\n");
    modern.send(HEADERS + "SUB a.b 1\r\n");
    legacy.send(QUIET + "SUB a.* 7\r\n");
    legacyToo.send(QUIET + "SUB a.b 8\r\n");
    await mesh.settle();
    const publisher = mesh.peer(0, 5);
    publisher.send(input, size);
    await mesh.settle();
    const text = `chunk size ${size}`;
    assertEquals(local.take(), "MSG a.b 1 reply.1 5\r\nhello\r\nMSG a.b 1 2\r\nhi\r\n", text);
    assertEquals(
      modern.take(),
      "MSG a.b 1 reply.1 5\r\nhello\r\nHMSG a.b 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
      text,
    );
    assertEquals(legacy.take(), "MSG a.b 7 reply.1 5\r\nhello\r\nMSG a.b 7 2\r\nhi\r\n", text);
    assertEquals(legacyToo.take(), "MSG a.b 8 reply.1 5\r\nhello\r\nMSG a.b 8 2\r\nhi\r\n", text);
    // One copy per loop and message, whatever the subscribers there.
    assertEquals([mesh.forwards(1), mesh.forwards(2), mesh.forwards(0)], [2, 2, 0], text);
    assertEquals(mesh.protocols.map((protocol) => protocol.router.delivered), [2, 2, 4], text);
    assertEquals(mesh.protocols.map((protocol) => protocol.router.published), [2, 0, 0], text);
    closeAll(local, modern, legacy, legacyToo, publisher);
    await mesh.settle();
  }
});

Deno.test("pubsubProtocol across loops: a loop without interest receives no forwarded message", async () => {
  const mesh = new LoopMesh(3);
  const subscribers = [1, 2, 3].map((id) => mesh.peer(1, id));
  for (const subscriber of subscribers) subscriber.send(QUIET + "SUB news 1\r\n");
  await mesh.settle();
  const publisher = mesh.peer(0, 9);
  let input = QUIET;
  for (let i = 0; i < 10; i++) input += `PUB news 1\r\n${i}\r\nPUB nobody.listens 1\r\n${i}\r\n`;
  publisher.send(input);
  await mesh.settle();
  assertEquals([mesh.forwards(0), mesh.forwards(1), mesh.forwards(2)], [0, 10, 0]);
  for (const subscriber of subscribers) assertEquals(messageLines(subscriber.take()).length, 10);
  assertEquals(mesh.protocols[2].router.delivered, 0);
  closeAll(publisher, ...subscribers);
  await mesh.settle();
});

Deno.test("pubsubProtocol across loops: * and > reach the loops whose patterns match", async () => {
  const mesh = new LoopMesh(3);
  const star = mesh.peer(1, 1);
  const full = mesh.peer(2, 2);
  star.send(QUIET + "SUB orders.* 1\r\n");
  full.send(QUIET + "SUB orders.> 2\r\n");
  await mesh.settle();
  const publisher = mesh.peer(0, 3);
  publisher.send(
    QUIET + "PUB orders.1 1\r\na\r\nPUB orders.1.paid 1\r\nb\r\nPUB orders 1\r\nc\r\n" +
      "PUB other.1 1\r\nd\r\n",
  );
  await mesh.settle();
  assertEquals(star.take(), "MSG orders.1 1 1\r\na\r\n");
  assertEquals(full.take(), "MSG orders.1 2 1\r\na\r\nMSG orders.1.paid 2 1\r\nb\r\n");
  assertEquals([mesh.forwards(1), mesh.forwards(2)], [1, 2]);
  closeAll(star, full, publisher);
  await mesh.settle();
});

Deno.test("pubsubProtocol across loops: UNSUB and a closed connection remove remote interest", async () => {
  const mesh = new LoopMesh(2);
  const subscriber = mesh.peer(1, 1);
  const other = mesh.peer(1, 2);
  subscriber.send(QUIET + "SUB x 1\r\nSUB x 2\r\n");
  other.send(QUIET + "SUB y 1\r\n");
  await mesh.settle();
  const publisher = mesh.peer(0, 3);
  publisher.send(QUIET);
  const publish = async (subject: string) => {
    const before = mesh.forwards(1);
    publisher.send(`PUB ${subject} 1\r\n!\r\n`);
    await mesh.settle();
    return mesh.forwards(1) - before;
  };
  assertEquals(await publish("x"), 1);
  subscriber.send("UNSUB 1\r\n");
  await mesh.settle();
  assertEquals(await publish("x"), 1, "a subscription to x is left");
  subscriber.send("UNSUB 2\r\n");
  await mesh.settle();
  assertEquals(await publish("x"), 0, "none left");
  const sids = messageLines(subscriber.take()).map((fields) => fields[2]);
  assertEquals(sids.sort(), ["1", "2", "2"], "both, then sid 2 alone");
  assertEquals(await publish("y"), 1);
  other.close();
  await mesh.settle();
  assertEquals(await publish("y"), 0, "its connection closed");
  closeAll(subscriber, publisher);
  await mesh.settle();
});

Deno.test("pubsubProtocol across loops: a queue group gives each message to one member over all loops", async () => {
  // Members on the publisher's loop and another; then on two loops other than the publisher's.
  // Then one member on loop 1 and three on loop 2: members, not loops, share evenly.
  for (const loops of [[0, 1], [1, 2], [1, 2, 2, 2]]) {
    const mesh = new LoopMesh(3);
    const members = loops.map((loop, i) => mesh.peer(loop, 10 + i));
    for (const member of members) member.send(QUIET + "SUB jobs.* workers 1\r\n");
    const watcher = mesh.peer(2, 20);
    watcher.send(QUIET + "SUB jobs.> 5\r\n");
    await mesh.settle();
    const publisher = mesh.peer(0, 30);
    let input = QUIET;
    for (let i = 0; i < 1000; i++) input += `PUB jobs.${i} ${String(i).length}\r\n${i}\r\n`;
    publisher.send(input);
    await mesh.settle();
    const got = members.map((member) => messageLines(member.take()).map((fields) => fields[1]));
    const all = got.flat().sort();
    assertEquals(all.length, 1000, `members on ${loops}`);
    assertEquals(new Set(all).size, 1000, "each message once");
    const least = loops.length === 2 ? 300 : 200;
    const most = loops.length === 2 ? 700 : 300;
    for (const one of got) {
      assert(one.length >= least && one.length <= most, `spread: ${got.map((g) => g.length)}`);
    }
    assertEquals(messageLines(watcher.take()).length, 1000, "the plain subscriber gets all");
    closeAll(...members, watcher, publisher);
    await mesh.settle();
  }
});

Deno.test("pubsubProtocol across loops: a queue member gone meanwhile passes its turn to another on its loop", async () => {
  const mesh = new LoopMesh(2, { manual: true });
  const [a, b] = [mesh.peer(1, 1), mesh.peer(1, 2)];
  a.send(QUIET + "SUB q g 1\r\n");
  b.send(QUIET + "SUB q g 1\r\n");
  await mesh.settle();
  const publisher = mesh.peer(0, 3);
  publisher.send(QUIET + "PUB q 1\r\n1\r\nPUB q 1\r\n2\r\n");
  a.close(); // before the forwarded messages arrive
  await mesh.settle();
  assertEquals(b.take(), "MSG q 1 1\r\n1\r\nMSG q 1 1\r\n2\r\n");
  b.close(); // no member left on loop 1: a message still on its way is dropped
  publisher.send("PUB q 1\r\n3\r\n");
  await mesh.settle();
  assertEquals(mesh.forwards(1), 3);
  assertEquals(mesh.protocols[1].router.delivered, 2);
  publisher.close();
  await mesh.settle();
});

Deno.test("pubsubProtocol across loops: request and reply cross loops, and no-responders only when nobody listens anywhere", async () => {
  const mesh = new LoopMesh(3);
  const requester = mesh.peer(0, 1);
  requester.send(REQUESTER + "SUB _INBOX.r.* 9\r\nPUB svc.time _INBOX.r.1 0\r\n\r\n");
  await mesh.settle();
  assertEquals(requester.take(), "HMSG _INBOX.r.1 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
  const responder = mesh.peer(2, 2);
  responder.send(QUIET + "SUB svc.* 1\r\nPING\r\n");
  await mesh.settle();
  assertEquals(responder.take(), "PONG\r\n");
  // The request is sent right after the inbox is subscribed: the inbox's interest goes first.
  requester.send("SUB _INBOX.s.* 10\r\nPUB svc.time _INBOX.s.1 4\r\nwhat\r\n");
  await Promise.resolve(); // the turn's forwards leave at its end, in one batch
  assertEquals(kinds(mesh.queued).slice(0, 3), ["0>1 interest", "0>2 interest", "0>2 msg"]);
  await mesh.settle();
  assertEquals(responder.take(), "MSG svc.time 1 _INBOX.s.1 4\r\nwhat\r\n");
  responder.send("PUB _INBOX.s.1 4\r\nnoon\r\n");
  await mesh.settle();
  assertEquals(
    requester.take(),
    "MSG _INBOX.s.1 10 4\r\nnoon\r\n",
    "no 503: a responder is remote",
  );
  assertEquals([mesh.forwards(0), mesh.forwards(1), mesh.forwards(2)], [1, 0, 1]);
  closeAll(requester, responder);
  await mesh.settle();
});

Deno.test("pubsubProtocol across loops: a publisher's 1000 messages arrive in order", async () => {
  const stream = (name: string) => {
    let input = QUIET;
    for (let i = 0; i < 1000; i++) {
      input += `PUB seq ${name.length + String(i).length}\r\n${name}${i}\r\n`;
    }
    return input;
  };
  for (const size of [new TextEncoder().encode(stream("a")).length, 7, 1]) {
    const mesh = new LoopMesh(3);
    const subscriber = mesh.peer(1, 1);
    subscriber.send(QUIET + "SUB seq 1\r\n");
    await mesh.settle();
    const [first, second] = [mesh.peer(0, 2), mesh.peer(2, 3)];
    first.send(stream("a"), size);
    second.send(stream("b"), size);
    await mesh.settle();
    const payloads = subscriber.take().split("\r\n").filter((_, i) => i % 2 === 1);
    assertEquals(payloads.length, 2000, `chunk size ${size}`);
    const expected = (name: string) => Array.from({ length: 1000 }, (_, i) => `${name}${i}`);
    const from = (name: string) => payloads.filter((payload) => payload.startsWith(name));
    assertEquals(from("a"), expected("a"), `loop 0's, chunk size ${size}`);
    assertEquals(from("b"), expected("b"), `loop 2's, chunk size ${size}`);
    closeAll(subscriber, first, second);
    await mesh.settle();
  }
});

Deno.test("pubsubProtocol across loops: PONG waits until the other loops applied the subscriptions", async () => {
  const mesh = new LoopMesh(3, { manual: true });
  mesh.deliverAll(); // the greetings
  const subscriber = mesh.peer(1, 1);
  const idle = mesh.peer(1, 2);
  subscriber.send(QUIET + "SUB news 1\r\nPING\r\nPING\r\n");
  idle.send(QUIET + "PING\r\n");
  assertEquals(subscriber.take(), "", "no PONG before the others know");
  assertEquals(idle.take(), "PONG\r\n", "a client that changed nothing is answered at once");
  await Promise.resolve(); // the interest is batched per microtask
  assertEquals(kinds(mesh.queued), ["1>0 interest", "1>2 interest"]);
  mesh.deliverNext();
  mesh.deliverNext();
  assertEquals(kinds(mesh.queued), ["0>1 ack", "2>1 ack"]);
  mesh.deliverNext();
  assertEquals(subscriber.take(), "", "loop 2 has not acknowledged yet");
  mesh.deliverNext();
  assertEquals(subscriber.take(), "PONG\r\nPONG\r\n");
  const publisher = mesh.peer(0, 3);
  publisher.send(QUIET + "PUB news 2\r\nhi\r\n");
  await Promise.resolve(); // the turn's forwards leave at its end
  mesh.deliverAll();
  assertEquals(subscriber.take(), "MSG news 1 2\r\nhi\r\n");
  closeAll(subscriber, idle, publisher);
  await mesh.settle();
});

Deno.test("pubsubProtocol across loops: a publisher's PONG waits until what it forwarded was delivered", async () => {
  const mesh = new LoopMesh(2, { manual: true });
  mesh.deliverAll(); // the greetings
  const subscriber = mesh.peer(1, 1);
  subscriber.send(QUIET + "SUB news 1\r\n");
  await Promise.resolve(); // the interest is batched per microtask
  mesh.deliverAll();
  const publisher = mesh.peer(0, 2);
  publisher.send(QUIET + "PUB news 2\r\nhi\r\nPING\r\n");
  assertEquals(publisher.take(), "", "no PONG while the message is on its way");
  await Promise.resolve(); // the marker follows the turn's forwards
  assertEquals(kinds(mesh.queued), ["0>1 msg", "0>1 interest"]);
  mesh.deliverNext();
  assertEquals(subscriber.take(), "MSG news 1 2\r\nhi\r\n");
  assertEquals(publisher.take(), "", "delivered, not yet acknowledged");
  mesh.deliverAll();
  assertEquals(publisher.take(), "PONG\r\n", "once loop 1 acknowledged the marker");
  closeAll(subscriber, publisher);
  await mesh.settle();
});

Deno.test("pubsubProtocol across loops: a replaced loop's interest is dropped, and the new loop learns the others'", async () => {
  const mesh = new LoopMesh(3);
  const doomed = mesh.peer(2, 1);
  doomed.send(QUIET + "SUB x 1\r\n");
  const listener = mesh.peer(1, 2);
  listener.send(QUIET + "SUB y 1\r\n");
  await mesh.settle();
  const publisher = mesh.peer(0, 3);
  publisher.send(QUIET + "PUB x 1\r\n1\r\n");
  await mesh.settle();
  assertEquals(mesh.forwards(2), 1);
  mesh.replace(2);
  await mesh.settle();
  publisher.send("PUB x 1\r\n2\r\n");
  await mesh.settle();
  assertEquals(mesh.forwards(2), 1, "the dead loop's interest is gone");
  const newcomer = mesh.peer(2, 4);
  newcomer.send(QUIET + "PUB y 1\r\n3\r\nSUB z 1\r\nPING\r\n");
  await mesh.settle();
  assertEquals(listener.take(), "MSG y 1 1\r\n3\r\n", "the new loop learned loop 1's interest");
  assertEquals(newcomer.take(), "PONG\r\n");
  publisher.send("PUB z 1\r\n4\r\n");
  await mesh.settle();
  assertEquals(newcomer.take(), "MSG z 1 1\r\n4\r\n");
  closeAll(listener, publisher, newcomer);
  await mesh.settle();
});

Deno.test("pubsubProtocol across loops: a new loop's interest told before the news of its start survives the news", async () => {
  const mesh = new LoopMesh(2, { manual: true });
  const doomed = mesh.peer(1, 1);
  doomed.send(QUIET + "SUB old 1\r\n");
  await mesh.settle();
  mesh.restart(1);
  const newcomer = mesh.peer(1, 2);
  newcomer.send(QUIET + "SUB fresh 1\r\n");
  await Promise.resolve(); // the interest is batched per microtask
  mesh.deliverAll(); // loop 0 hears the new loop's greeting and interest first
  mesh.announce(1); // then that loop 1 was replaced: it drops loop 1's interest, and asks
  await mesh.settle();
  const publisher = mesh.peer(0, 3);
  publisher.send(QUIET + "PUB old 1\r\n1\r\nPUB fresh 1\r\n2\r\n");
  await mesh.settle();
  assertEquals(newcomer.take(), "MSG fresh 1 1\r\n2\r\n");
  assertEquals(mesh.forwards(1), 1, "nothing for the old loop's subject");
  closeAll(newcomer, publisher);
  await mesh.settle();
});

Deno.test("pubsubProtocol has a recipe that builds the same protocol again, unless given a router or a function", async () => {
  const protocol = pubsubProtocol({ pingInterval: 0, maxPayload: 1000, address: () => undefined });
  const recipe = protocol.recipe;
  if (recipe === undefined) throw new Error("No recipe");
  assertEquals(recipe.export, "pubsubProtocol");
  assertMatch(recipe.module, /pubsub_protocol\.ts$/);
  const module = await import(recipe.module);
  const again = module[recipe.export](structuredClone(recipe.options));
  const info = (factory: typeof protocol) => {
    const transport = new MemoryTransport();
    const handler = factory.create(transport);
    handler.open?.();
    handler.close?.();
    return JSON.parse(transport.text().slice(5));
  };
  const [first, second] = [info(protocol), info(again)];
  assertEquals(second.server_id, first.server_id);
  assertEquals(second.max_payload, 1000);
  assertEquals(pubsubProtocol({ router: protocol.router }).recipe, undefined);
  assertEquals(pubsubProtocol({ onProtocolError: () => {} }).recipe, undefined);
});

Deno.test("pubsubProtocol on a single loop sends nothing and answers PING at once", () => {
  const mesh = new LoopMesh(1, { manual: true });
  const peer = mesh.peer(0, 1);
  peer.send(QUIET + "SUB a 1\r\nPING\r\nPUB a 1\r\nx\r\n");
  assertStringIncludes(peer.take(), "PONG\r\nMSG a 1 1\r\nx\r\n");
  assertEquals(mesh.sent.length, 0);
  assertEquals(mesh.protocols[0].router.interestSerial, 0);
  peer.close();
});
