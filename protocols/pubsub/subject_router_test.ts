import { assert, assertEquals, assertThrows } from "@std/assert";
import { MemoryTransport } from "../../testing/memory_transport.ts";
import { InvalidSubjectError } from "./pubsub_errors.ts";
import { type PubSubClient, SubjectRouter } from "./subject_router.ts";

const encoder = new TextEncoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);
const NONE = new Uint8Array(0);

/** A client over a memory transport; `text()` is everything delivered to it. */
function client(
  id: number,
  options: { headers?: boolean; echo?: boolean } = {},
): PubSubClient & { transport: MemoryTransport; text(): string } {
  const transport = new MemoryTransport(id);
  return {
    handle: transport.handle,
    headers: options.headers ?? false,
    echo: options.echo ?? true,
    transport,
    text: () => transport.text(),
  };
}

function publish(
  router: SubjectRouter,
  publisher: PubSubClient,
  subject: string,
  payload: string,
  reply = "",
): number {
  return router.publish(publisher, bytes(subject), bytes(reply), bytes(payload), -1);
}

/** The MSG lines a client got, without payloads: "subject sid [reply] size". */
function msgs(text: string): string[] {
  return [...text.matchAll(/^H?MSG ([^\r]*)\r\n/gm)].map((match) => match[1]);
}

Deno.test("SubjectRouter delivers to literal, * and > subscriptions, each with its own sid", () => {
  const router = new SubjectRouter();
  const a = client(1);
  const b = client(2);
  const c = client(3);
  router.subscribe(a, "orders.42.paid", "1");
  router.subscribe(b, "orders.*.paid", "22");
  router.subscribe(c, "orders.>", "333");
  router.subscribe(c, "orders.*", "4");
  router.subscribe(c, "*.*.*.*", "5");
  assertEquals(publish(router, a, "orders.42.paid", "hi"), 3);
  assertEquals(a.text(), "MSG orders.42.paid 1 2\r\nhi\r\n");
  assertEquals(b.text(), "MSG orders.42.paid 22 2\r\nhi\r\n");
  assertEquals(c.text(), "MSG orders.42.paid 333 2\r\nhi\r\n");
  assertEquals(publish(router, a, "orders.7", "x", "inbox.1"), 2);
  assertEquals(msgs(c.text()).slice(1).sort(), ["orders.7 333 inbox.1 1", "orders.7 4 inbox.1 1"]);
  assertEquals(publish(router, a, "orders", "x"), 0);
  assertEquals([router.published, router.delivered], [3, 5]);
});

Deno.test("SubjectRouter never matches a published subject with an empty token", () => {
  const router = new SubjectRouter();
  const a = client(1);
  router.subscribe(a, ">", "1");
  router.subscribe(a, "a.*.b", "2");
  for (const subject of ["a..b", ".a", "a."]) assertEquals(publish(router, a, subject, "x"), 0);
  assertEquals(a.text(), "");
});

Deno.test("SubjectRouter gives each message to one member of each queue group, round robin", () => {
  const router = new SubjectRouter();
  const workers = [client(1), client(2), client(3)];
  const auditors = [client(4), client(5)];
  const watcher = client(6);
  workers.forEach((worker, i) => router.subscribe(worker, "jobs.*", `w${i}`, "workers"));
  auditors.forEach((auditor, i) => router.subscribe(auditor, "jobs.>", `a${i}`, "auditors"));
  router.subscribe(watcher, "jobs.new", "w");
  const publisher = client(7);
  for (let i = 0; i < 30; i++) assertEquals(publish(router, publisher, "jobs.new", `${i}`), 3);
  assertEquals(workers.map((worker) => msgs(worker.text()).length), [10, 10, 10]);
  assertEquals(auditors.map((auditor) => msgs(auditor.text()).length), [15, 15]);
  assertEquals(msgs(watcher.text()).length, 30);
});

Deno.test("SubjectRouter merges queue members of the same name across subjects", () => {
  const router = new SubjectRouter();
  const a = client(1);
  const b = client(2);
  router.subscribe(a, "a.*", "1", "q");
  router.subscribe(b, "a.b", "1", "q");
  for (let i = 0; i < 4; i++) assertEquals(publish(router, a, "a.b", "x"), 1);
  assertEquals([msgs(a.text()).length, msgs(b.text()).length], [2, 2]);
  assertEquals(router.match("a.b").groups.length, 1);
});

Deno.test("SubjectRouter.unsubscribe with max ends the subscription after max deliveries in all", () => {
  const router = new SubjectRouter();
  const a = client(1);
  const other = client(2);
  router.subscribe(a, "a", "1");
  router.subscribe(other, "a", "1");
  publish(router, a, "a", "0");
  assertEquals(router.unsubscribe(a, "1", 3), true);
  for (let i = 1; i <= 4; i++) publish(router, a, "a", `${i}`);
  assertEquals(a.text(), ["0", "1", "2"].map((x) => `MSG a 1 1\r\n${x}\r\n`).join(""));
  assertEquals(msgs(other.text()).length, 5);
  assertEquals(router.size, 1);
  assertEquals(router.unsubscribe(a, "1"), false, "it is gone");
});

Deno.test("SubjectRouter.unsubscribe with a max already reached, or 0, ends it at once", () => {
  const router = new SubjectRouter();
  const a = client(1);
  router.subscribe(a, "a", "1");
  router.subscribe(a, "b", "2");
  publish(router, a, "a", "x");
  publish(router, a, "a", "x");
  router.unsubscribe(a, "1", 2);
  router.unsubscribe(a, "2", 0);
  assertEquals(router.size, 0);
  assertEquals(publish(router, a, "a", "x") + publish(router, a, "b", "x"), 0);
  assertEquals(router.unsubscribe(a, "nope"), false);
});

Deno.test("SubjectRouter ends a queue member at its max and goes on with the others", () => {
  const router = new SubjectRouter();
  const a = client(1);
  const b = client(2);
  router.subscribe(a, "q", "1", "g");
  router.subscribe(b, "q", "1", "g");
  router.unsubscribe(a, "1", 1);
  for (let i = 0; i < 5; i++) assertEquals(publish(router, b, "q", "x"), 1);
  assertEquals([msgs(a.text()).length, msgs(b.text()).length], [1, 4]);
});

Deno.test("SubjectRouter skips the publisher's own subscriptions when it asked for no echo", () => {
  const router = new SubjectRouter();
  const quiet = client(1, { echo: false });
  const loud = client(2);
  router.subscribe(quiet, "a", "1");
  router.subscribe(quiet, "a", "2", "g");
  router.subscribe(loud, "a", "1");
  assertEquals(publish(router, quiet, "a", "x"), 1, "only loud's plain subscription");
  assertEquals(quiet.text(), "");
  router.subscribe(loud, "a", "2", "g");
  for (let i = 0; i < 4; i++) publish(router, quiet, "a", "y");
  assertEquals(quiet.text(), "", "its queue member is skipped too");
  assertEquals(msgs(loud.text()).filter((m) => m.startsWith("a 2 ")).length, 4);
  assertEquals(publish(router, loud, "a", "z"), 3, "others get it");
  assertEquals(msgs(quiet.text()).length, 2);
});

Deno.test("SubjectRouter sends HMSG to clients that read headers and strips them for others", () => {
  const router = new SubjectRouter();
  const modern = client(1, { headers: true });
  const legacy = client(2);
  router.subscribe(modern, "a", "1");
  router.subscribe(legacy, "a", "7");
  const payload = bytes("NATS/1.0\r\nK: v\r\n\r\nbody");
  assertEquals(router.publish(modern, bytes("a"), bytes("r"), payload, 18), 2);
  assertEquals(modern.text(), "HMSG a 1 r 18 22\r\nNATS/1.0\r\nK: v\r\n\r\nbody\r\n");
  assertEquals(legacy.text(), "MSG a 7 r 4\r\nbody\r\n");
  router.publish(modern, bytes("a"), NONE, bytes("plain"), 0);
  assertEquals(modern.text().slice(-18), "MSG a 1 5\r\nplain\r\n");
});

Deno.test("SubjectRouter keeps the first subscription of a sid used twice", () => {
  const router = new SubjectRouter();
  const a = client(1);
  const first = router.subscribe(a, "a", "1");
  assertEquals(router.subscribe(a, "b", "1"), first);
  assertEquals(router.size, 1);
  assertEquals(publish(router, a, "b", "x"), 0);
});

Deno.test("SubjectRouter sees subscriptions made after a subject was published (match cache)", () => {
  const router = new SubjectRouter();
  const a = client(1);
  const b = client(2);
  router.subscribe(a, "a.b", "1");
  assertEquals(publish(router, a, "a.b", "1"), 1);
  router.subscribe(b, "a.*", "1");
  assertEquals(publish(router, a, "a.b", "2"), 2);
  router.unsubscribe(a, "1");
  assertEquals(publish(router, a, "a.b", "3"), 1);
  router.removeClient(b);
  assertEquals(publish(router, a, "a.b", "4"), 0);
  assertEquals(msgs(b.text()).length, 2);
});

Deno.test("SubjectRouter.removeClient ends every subscription of the client and none of the others", () => {
  const router = new SubjectRouter();
  const a = client(1);
  const b = client(2);
  router.subscribe(b, "_INBOX.keep", "0");
  for (let i = 0; i < 100; i++) router.subscribe(a, `_INBOX.${i}.*`, `${i}`, i % 2 ? "q" : "");
  assertEquals(router.size, 101);
  assertEquals(router.removeClient(a), 100);
  assertEquals(router.size, 1);
  assertEquals(router.removeClient(a), 0);
  assertEquals(router.match("_INBOX.5.x"), { plain: [], groups: [] });
  assertEquals(publish(router, b, "_INBOX.keep", "x"), 1);
});

Deno.test("SubjectRouter.subscribe refuses invalid subjects", () => {
  const router = new SubjectRouter();
  const a = client(1);
  for (const subject of ["", "a..b", "a.>.b", ".a"]) {
    assertThrows(() => router.subscribe(a, subject, "1"), InvalidSubjectError, undefined, subject);
  }
  assertEquals(router.size, 0);
});

Deno.test("SubjectRouter.noResponders answers on the requester's own matching subscription only", () => {
  const router = new SubjectRouter();
  const requester = client(1, { headers: true });
  const other = client(2, { headers: true });
  router.subscribe(other, "_INBOX.>", "5");
  assertEquals(router.noResponders(requester, "_INBOX.a.1"), false);
  router.subscribe(requester, "_INBOX.a.*", "9", "g");
  assertEquals(router.noResponders(requester, "_INBOX.a.1"), true);
  assertEquals(requester.text(), "HMSG _INBOX.a.1 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
  assertEquals(other.text(), "");
});

Deno.test("SubjectRouter counts a delivery to a closed connection and goes on with the others", () => {
  const router = new SubjectRouter();
  const gone = client(1);
  const here = client(2);
  router.subscribe(gone, "a", "1");
  router.subscribe(here, "a", "1");
  gone.transport.handle.close();
  assertEquals(publish(router, here, "a", "x"), 2);
  assertEquals(here.text(), "MSG a 1 1\r\nx\r\n");
});

Deno.test("SubjectRouter encodes payloads of any size and sids of any length", () => {
  const router = new SubjectRouter();
  const a = client(1);
  const sid = "s".repeat(600);
  router.subscribe(a, "big", sid);
  const payload = "p".repeat(100_000);
  publish(router, a, "big", payload);
  assertEquals(a.text(), `MSG big ${sid} 100000\r\n${payload}\r\n`);
});

Deno.test("SubjectRouter encodes each message right when only its payload, reply, sid or size changes", () => {
  const router = new SubjectRouter();
  const a = client(1);
  const b = client(2);
  router.subscribe(a, "s", "1");
  router.subscribe(b, "s", "1");
  const sent: [string, string][] = [
    ["", "aa"],
    ["", "bb"],
    ["r1", "cc"],
    ["r2", "dd"],
    ["r2", "eee"],
    ["", "ff"],
  ];
  for (const [reply, payload] of sent) publish(router, a, "s", payload, reply);
  router.publish(a, bytes("s"), NONE, bytes("NATS/1.0\r\n\r\ngg"), 12);
  publish(router, a, "t", "hh");
  router.subscribe(a, "t", "3");
  publish(router, a, "t", "ii");
  publish(router, a, "s", "jj");
  const c = client(3);
  router.subscribe(c, "s", "22");
  publish(router, a, "s", "kk");
  const expected =
    sent.map(([reply, payload]) =>
      `MSG s 1 ${reply ? reply + " " : ""}${payload.length}\r\n${payload}\r\n`
    ).join("") + "MSG s 1 2\r\ngg\r\n";
  assertEquals(b.text(), expected + "MSG s 1 2\r\njj\r\nMSG s 1 2\r\nkk\r\n");
  assertEquals(
    a.text(),
    expected + "MSG t 3 2\r\nii\r\nMSG s 1 2\r\njj\r\nMSG s 1 2\r\nkk\r\n",
  );
  assertEquals(c.text(), "MSG s 22 2\r\nkk\r\n");
  const d = client(4);
  const e = client(5);
  router.subscribe(d, "s", "9");
  router.subscribe(e, "v", "9");
  publish(router, a, "s", "ll");
  publish(router, a, "v", "mm");
  assertEquals([d.text(), e.text()], ["MSG s 9 2\r\nll\r\n", "MSG v 9 2\r\nmm\r\n"]);
});

/** Deliveries each client got. */
function counts(clients: { text(): string }[]): number[] {
  return clients.map((c) => msgs(c.text()).length);
}

Deno.test("SubjectRouter shares a queue group evenly across distinct subjects", () => {
  const router = new SubjectRouter();
  const members = [client(1), client(2)];
  members.forEach((member, i) => router.subscribe(member, "orders.*", `${i}`, "workers"));
  const publisher = client(3);
  for (let i = 0; i < 1000; i++) publish(router, publisher, `orders.${i}`, "x");
  const got = counts(members);
  assertEquals(got[0] + got[1], 1000);
  // A fair coin gives 500 +- 16; the defect gave one member all 1000.
  for (const count of got) assert(count >= 400, `members got ${got}`);
});

Deno.test("SubjectRouter shares a queue group evenly when subscriptions change between publishes", () => {
  const router = new SubjectRouter();
  const members = [client(1), client(2)];
  members.forEach((member, i) => router.subscribe(member, "orders", `${i}`, "workers"));
  const publisher = client(3);
  for (let i = 0; i < 1000; i++) {
    router.subscribe(publisher, "unrelated", "u");
    router.unsubscribe(publisher, "u");
    publish(router, publisher, "orders", "x");
  }
  const got = counts(members);
  assertEquals(got[0] + got[1], 1000);
  for (const count of got) assert(count >= 400, `members got ${got}`);
});

Deno.test("SubjectRouter.removeClient takes a client's subscriptions to one subject out in linear time", () => {
  const router = new SubjectRouter();
  const greedy = client(1);
  const other = client(2);
  router.subscribe(other, "hot", "1");
  const count = 100_000;
  for (let i = 0; i < count; i++) router.subscribe(greedy, "hot", `${i}`, i % 2 ? "" : "q");
  // Linear removal takes tens of milliseconds here; the quadratic one (search and splice per
  // subscription) took 8 s for 100,000 and held the I/O thread, and every client, meanwhile.
  const started = performance.now();
  assertEquals(router.removeClient(greedy), count);
  const took = performance.now() - started;
  assert(took < 2000, `removing ${count} subscriptions took ${took.toFixed(0)} ms`);
  assertEquals(router.size, 1);
  assertEquals(publish(router, other, "hot", "x"), 1);
});
