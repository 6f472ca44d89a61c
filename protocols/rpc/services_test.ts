import { assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { HeaderDecoder } from "../../core/framing/header_decoder.ts";
import { MemoryTransport } from "../../testing/memory_transport.ts";
import { decodeRpcError, RpcKind } from "./_rpc_frame.ts";
import { Services } from "./services.ts";

const text = new TextDecoder();

function payload(kind: number, id: number, body: string | Uint8Array = ""): Uint8Array {
  const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  const out = new Uint8Array(8 + bytes.length);
  out[0] = kind;
  new DataView(out.buffer).setUint32(4, id, true);
  out.set(bytes, 8);
  return out;
}

/** Frames written, as [type, kind, id, body or "name: message"]. */
function replies(transport: MemoryTransport): [number, number, number, string][] {
  const decoder = new HeaderDecoder();
  decoder.feed(transport.bytes());
  const out: [number, number, number, string][] = [];
  for (let frame = decoder.next(); frame !== null; frame = decoder.next()) {
    const id = new DataView(frame.buffer, frame.byteOffset).getUint32(4, true);
    const body = frame.subarray(8);
    const shown = frame[0] === RpcKind.error
      ? `${decodeRpcError(body).name}: ${decodeRpcError(body).message}`
      : text.decode(body);
    out.push([decoder.type, frame[0], id, shown]);
  }
  return out;
}

async function run(
  services: Services,
  type: number,
  bytes: Uint8Array,
  transport: MemoryTransport,
) {
  await services.onMessage(
    { connectionId: 1, type, payload: bytes },
    transport.handle,
    transport.context,
  );
}

Deno.test("Services answers each type with its handler, sync and async, with the request's id", async () => {
  const services = new Services()
    .service(1, ({ body }) => text.decode(body).toUpperCase())
    .service(2, async ({ body, id }) => {
      await Promise.resolve();
      return `${id}:${body.length}`;
    })
    .service(3, () => {});
  const transport = new MemoryTransport();
  await run(services, 1, payload(RpcKind.request, 10, "abc"), transport);
  await run(services, 2, payload(RpcKind.request, 11, "abcd"), transport);
  await run(services, 3, payload(RpcKind.request, 12, "x"), transport);
  assertEquals(replies(transport), [
    [1, RpcKind.reply, 10, "ABC"],
    [2, RpcKind.reply, 11, "11:4"],
    [3, RpcKind.reply, 12, ""],
  ]);
});

Deno.test("Services answers an unknown type with an error reply, not silence", async () => {
  const services = new Services().service(1, () => "one");
  const transport = new MemoryTransport();
  await run(services, 99, payload(RpcKind.request, 5), transport);
  await run(services, 98, payload(RpcKind.notify, 0), transport);
  assertEquals(replies(transport), [
    [99, RpcKind.error, 5, "RpcUnknownTypeError: No service for message type 99"],
    [98, RpcKind.error, 0, "RpcUnknownTypeError: No service for message type 98"],
  ]);
});

Deno.test("Services turns a throw or a rejection into an error reply with its name and message", async () => {
  const services = new Services()
    .service(1, () => {
      throw new TypeError("sync failure");
    })
    .service(2, () => Promise.reject(new RangeError("async failure")))
    .service(3, () => {
      throw "a string";
    })
    .service(4, () => new Uint8Array(70_000));
  const transport = new MemoryTransport();
  for (const type of [1, 2, 3, 4]) {
    await run(services, type, payload(RpcKind.request, type), transport);
  }
  assertEquals(replies(transport), [
    [1, RpcKind.error, 1, "TypeError: sync failure"],
    [2, RpcKind.error, 2, "RangeError: async failure"],
    [3, RpcKind.error, 3, "Error: a string"],
    [
      4,
      RpcKind.error,
      4,
      "RangeError: Body of at least 70000 bytes exceeds the limit of 65519 bytes",
    ],
  ]);
});

Deno.test("Services runs one-way messages without a reply, and tells of their failures with id 0", async () => {
  const seen: string[] = [];
  const services = new Services()
    .service(1, ({ body, id }) => void seen.push(`${id}:${text.decode(body)}`))
    .service(2, () => {
      throw new Error("one-way failure");
    });
  const transport = new MemoryTransport();
  await run(services, 1, payload(RpcKind.notify, 0, "fire"), transport);
  await run(services, 2, payload(RpcKind.notify, 0, "fail"), transport);
  assertEquals(seen, ["0:fire"]);
  assertEquals(replies(transport), [[2, RpcKind.error, 0, "Error: one-way failure"]]);
});

Deno.test("Services refuses bad registrations", () => {
  const services = new Services().service(1, () => {});
  assertThrows(() => services.service(1, () => {}), TypeError, "Service 1 has a handler already");
  assertThrows(() => services.service(0, () => {}), RangeError, "got 0");
  assertThrows(() => services.service(65536, () => {}), RangeError, "got 65536");
  assertThrows(
    () => services.service(2, "no" as unknown as () => void),
    TypeError,
    "must be a function",
  );
  assertEquals(services.types, [1]);
});

Deno.test("Services aborts a running request's signal on its cancel, and sends no reply for it", async () => {
  const reasons: unknown[] = [];
  const services = new Services().service(
    1,
    ({ signal, body }) =>
      new Promise((resolve, reject) => {
        if (text.decode(body) === "finish") queueMicrotask(() => resolve("finished"));
        signal.addEventListener("abort", () => {
          reasons.push(signal.reason);
          reject(signal.reason);
        });
      }),
  );
  const transport = new MemoryTransport();
  const message = (kind: number, id: number, body = "") => ({
    connectionId: transport.id,
    type: 1,
    payload: payload(kind, id, body),
  });
  const cancelled = services.onMessage(
    message(RpcKind.request, 7),
    transport.handle,
    transport.context,
  );
  const other = services.onMessage(
    message(RpcKind.request, 8, "finish"),
    transport.handle,
    transport.context,
  );
  // A cancel of an id that is not running (done, or never sent) changes nothing.
  services.onMessage(message(RpcKind.cancel, 99), transport.handle, transport.context);
  services.onMessage(message(RpcKind.cancel, 7), transport.handle, transport.context);
  await Promise.all([cancelled, other]);
  assertEquals(reasons.length, 1);
  assertInstanceOf(reasons[0], DOMException);
  assertEquals((reasons[0] as DOMException).name, "AbortError");
  assertEquals(replies(transport), [[1, RpcKind.reply, 8, "finished"]]);
  // Its signal, read only after the cancel, is aborted already.
  let late: AbortSignal | undefined;
  const held = new Services().service(2, (request) =>
    new Promise<void>((resolve) => {
      queueMicrotask(() => {
        late = request.signal;
        resolve();
      });
    }));
  const running = held.onMessage(
    { ...message(RpcKind.request, 9), type: 2 },
    transport.handle,
    transport.context,
  );
  held.onMessage({ ...message(RpcKind.cancel, 9), type: 2 }, transport.handle, transport.context);
  await running;
  assertEquals(late?.aborted, true);
  assertEquals(replies(transport).length, 1, "no reply for the cancelled call");
});

/** Counts the runs of service 1 and sends `kind` frames of `ids` from `transport`. */
function earlyCancelFixture() {
  const ran: string[] = [];
  const services = new Services().service(1, ({ id, connection }) => {
    ran.push(`${connection.id}:${id}`);
    return "ran";
  });
  const send = (transport: MemoryTransport, kind: number, id: number) =>
    services.onMessage(
      { connectionId: transport.id, type: 1, payload: payload(kind, id) },
      transport.handle,
      transport.context,
    );
  return { ran, services, send };
}

Deno.test("Services keeps a connection's early cancel through another connection's flood of cancels", () => {
  const { ran, send } = earlyCancelFixture();
  const a = new MemoryTransport(1);
  const b = new MemoryTransport(2);
  // A's cancel of request 7 overtook the request, which waits for a place.
  send(a, RpcKind.cancel, 7);
  // B floods cancels of ids it never sent, more than any one connection may keep.
  for (let id = 1; id <= 5000; id++) send(b, RpcKind.cancel, id);
  // A's request 7 starts: its caller gave up, so it must not run.
  send(a, RpcKind.request, 7);
  assertEquals(ran, []);
  assertEquals(replies(a), []);
  // B's own requests: its cancels of ids 1..3976 were pushed out by its own later ones.
  send(b, RpcKind.request, 1);
  send(b, RpcKind.request, 5000);
  assertEquals(ran, ["2:1"]);
});

Deno.test("Services keeps at most 1024 early cancels per connection, forgetting its oldest first", () => {
  const { ran, send } = earlyCancelFixture();
  const a = new MemoryTransport(1);
  for (let id = 1; id <= 1025; id++) send(a, RpcKind.cancel, id);
  for (const id of [1, 2, 1025]) send(a, RpcKind.request, id);
  assertEquals(ran, ["1:1"], "only the oldest cancel was forgotten");
});

Deno.test("Services.onClose forgets the early cancels of the connection that closed, and no other's", () => {
  const { ran, services, send } = earlyCancelFixture();
  const a = new MemoryTransport(1);
  const b = new MemoryTransport(2);
  send(a, RpcKind.cancel, 7);
  send(b, RpcKind.cancel, 7);
  a.handle.close();
  services.onClose(a.handle);
  // Nothing of A's is kept: a request 7 on its id now runs (a reused id would, too).
  send(a, RpcKind.request, 7);
  send(b, RpcKind.request, 7);
  assertEquals(ran, ["1:7"]);
});
