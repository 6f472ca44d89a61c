import { assertEquals } from "@std/assert";
import { deadline } from "@std/async/deadline";
import { DispatchFlag } from "./_dispatch_flags.ts";
import {
  Connection,
  type ConnectionHost,
  type ConnectionLimits,
  type Socket,
} from "./connection.ts";

/** A socket that reads one chunk, then nothing until closed, and records its writes. */
class RecordingSocket implements Socket {
  /** The length of each write, in the order made. */
  readonly writes: number[] = [];
  #chunk: Uint8Array | undefined;
  readonly #closed = Promise.withResolvers<null>();

  constructor(chunk: Uint8Array) {
    this.#chunk = chunk;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    const chunk = this.#chunk;
    if (chunk === undefined) return this.#closed.promise;
    this.#chunk = undefined;
    buffer.set(chunk.subarray(0, buffer.length));
    return Promise.resolve(Math.min(chunk.length, buffer.length));
  }

  write(bytes: Uint8Array): Promise<number> {
    this.writes.push(bytes.length);
    return Promise.resolve(bytes.length);
  }

  close(): void {
    this.#closed.resolve(null);
  }
}

const host: ConnectionHost = {
  now: 0,
  readsPaused: false,
  dispatch: () => false,
  messageDone: () => {},
  closed: () => {},
  error: (error) => {
    throw error;
  },
  countBytes: () => {},
  lingering: () => {},
};

function limits(earlyFlushBytes: number): ConnectionLimits {
  return {
    readBufferSize: 1024,
    writeHighWater: 1 << 20,
    maxWriteBuffer: 1 << 20,
    earlyFlushBytes,
    lingerTimeout: 0,
  };
}

/**
 * Runs a connection whose handler answers its one chunk with three writes of 600 bytes, in one
 * turn; returns the socket writes seen as each write returned, and all of them at the end.
 */
async function threeWrites(earlyFlushBytes: number): Promise<[number[][], number[]]> {
  const socket = new RecordingSocket(new Uint8Array([1]));
  const connection = new Connection(socket, 1, host, limits(earlyFlushBytes));
  const seen: number[][] = [];
  const answered = Promise.withResolvers<void>();
  connection.start({
    create: (context) => ({
      data() {
        for (let i = 0; i < 3; i++) {
          context.handle.write(new Uint8Array(600));
          seen.push([...socket.writes]);
        }
        answered.resolve();
      },
    }),
  });
  await deadline(answered.promise, 2000);
  // The writes of the turn are flushed within a few microtasks of its end.
  for (let i = 0; i < 10 && socket.writes.reduce((a, b) => a + b, 0) < 1800; i++) {
    await Promise.resolve();
  }
  const writes = [...socket.writes];
  connection.destroy();
  return [seen, writes];
}

Deno.test("Connection writes a turn's output once, at the turn's end, below earlyFlushBytes", async () => {
  const [seen, writes] = await threeWrites(Infinity);
  assertEquals(seen, [[], [], []]);
  assertEquals(writes, [1800]);
});

Deno.test("Connection starts writing once a turn's output reaches earlyFlushBytes, then sends the rest at its end", async () => {
  const [seen, writes] = await threeWrites(1024);
  // 600 bytes wait; 1200 reach the limit and go at once; the last 600 follow the turn.
  assertEquals(seen, [[], [1200], [1200]]);
  assertEquals(writes, [1200, 600]);
});

Deno.test("Connection keeps one write per turn for writes made outside the handler's data", async () => {
  const socket = new RecordingSocket(new Uint8Array(0));
  const connection = new Connection(socket, 1, host, limits(1024));
  connection.start({ create: () => ({ data() {} }) });
  const seen: number[][] = [];
  for (let i = 0; i < 3; i++) {
    connection.handle.write(new Uint8Array(600));
    seen.push([...socket.writes]);
  }
  for (let i = 0; i < 10 && socket.writes.length === 0; i++) await Promise.resolve();
  assertEquals(seen, [[], [], []]);
  assertEquals(socket.writes, [1800]);
  connection.destroy();
});

Deno.test("Connection tells the host whether a dispatched payload lies in the chunk it read", async () => {
  const seen: boolean[] = [];
  const options: [boolean, string | number | undefined][] = [];
  const dispatched = Promise.withResolvers<void>();
  const recording: ConnectionHost = {
    ...host,
    dispatch(_connection, _payload, _type, flags, key) {
      seen.push((flags & DispatchFlag.keepable) !== 0);
      options.push([(flags & DispatchFlag.overtake) !== 0, key]);
      if (seen.length === 3) dispatched.resolve();
      return false;
    },
  };
  const socket = new RecordingSocket(new Uint8Array([1, 2, 3, 4]));
  const connection = new Connection(socket, 1, recording, limits(1024));
  const own = new Uint8Array(4);
  connection.start({
    create: (context) => ({
      data(chunk: Uint8Array) {
        context.dispatch(chunk.subarray(1, 3)); // a view of the read buffer: no copy needed
        own.set(chunk);
        context.dispatch(own); // the handler's own buffer, which it will overwrite
        context.dispatch(chunk, 0, { overtake: true, key: "k" });
      },
    }),
  });
  await deadline(dispatched.promise, 2000);
  assertEquals(seen, [true, false, true]);
  assertEquals(options, [[false, undefined], [false, undefined], [true, "k"]]);
  connection.destroy();
});

/** A socket whose reads wait for `feed`, recording the size of each read buffer. */
class FedSocket implements Socket {
  readonly readSizes: number[] = [];
  #pending: { buffer: Uint8Array; resolve: (count: number | null) => void } | undefined;
  #reading = Promise.withResolvers<void>();

  read(buffer: Uint8Array): Promise<number | null> {
    this.readSizes.push(buffer.length);
    const { promise, resolve } = Promise.withResolvers<number | null>();
    this.#pending = { buffer, resolve };
    this.#reading.resolve();
    return promise;
  }

  /** Waits for the connection's next read, then fills it with `length` bytes. */
  async feed(length: number): Promise<void> {
    await deadline(this.#reading.promise, 2000);
    this.#reading = Promise.withResolvers<void>();
    const pending = this.#pending!;
    this.#pending = undefined;
    pending.resolve(Math.min(length, pending.buffer.length));
  }

  write(bytes: Uint8Array): Promise<number> {
    return Promise.resolve(bytes.length);
  }

  close(): void {
    this.#pending?.resolve(null);
  }
}

Deno.test("Connection.trim gives back a grown read buffer: the read after the next is small again", async () => {
  const socket = new FedSocket();
  const connection = new Connection(socket, 1, host, { ...limits(Infinity), readBufferSize: 1024 });
  connection.start({ create: () => ({ data() {} }) });
  // Full reads double the buffer: 64, 128, 256, 512, 1024.
  for (let size = 64; size <= 1024; size *= 2) await socket.feed(size);
  connection.trim();
  // The read under way keeps its buffer; the one after it starts small.
  await socket.feed(10);
  await socket.feed(10);
  assertEquals(socket.readSizes, [64, 128, 256, 512, 1024, 1024, 64, 64]);
  connection.destroy();
});
