/**
 * The pub/sub part of the soak load (`soak.ts`), over the NATS text protocol: publishers send
 * numbered messages to `soak.p<publisher>.<n>` in batches, each followed by a PING whose PONG
 * paces them; subscribers listen on `soak.>`, some alone, some in one queue group, and churn
 * (connect, SUB, receive a random number of messages, leave, reconnect). Publishers reconnect
 * too, less often.
 *
 * Every delivery is checked: its sid, that its subject and payload are the ones its sequence
 * number says, and the order. A lone subscriber must see each publisher's messages with no gap
 * (a publisher closes only after the PONG of its last batch, so nothing it published is in
 * flight then); a queue member shares them with the other member, so it must only see them in
 * increasing order.
 *
 * A subscriber leaves cleanly (UNSUB, PING, PONG, close) or abruptly (close with deliveries
 * unread, an RST), half the time each.
 *
 * @module
 */

import { randomInt, SoakLoad } from "./_soak_load.ts";
import type { SoakConnection } from "./_soak_connection.ts";
import { pubsubPayload, pubsubSubject, SOAK_SUBJECT_PREFIX } from "./_soak_payloads.ts";
import { SoakWrongAnswerError } from "./_soak_tally.ts";

/** Options of {@linkcode startPubSubLoad}. */
export interface PubSubLoadOptions {
  /**
   * Subscribers on `soak.>` alone: each receives every message.
   *
   * @default {4}
   */
  subscribers?: number;
  /**
   * Members of the one queue group on `soak.>`: each message goes to one of them.
   *
   * @default {2}
   */
  queueMembers?: number;
  /**
   * Publishers.
   *
   * @default {2}
   */
  publishers?: number;
  /**
   * Deliveries a subscriber receives before it leaves: a random count in these bounds.
   *
   * @default {[100, 2000]}
   */
  deliveriesPerSession?: [number, number];
  /**
   * Batches a publisher sends before it reconnects: a random count in these bounds.
   *
   * @default {[200, 2000]}
   */
  batchesPerSession?: [number, number];
  /**
   * Messages in one batch: a random count in these bounds.
   *
   * @default {[1, 20]}
   */
  batchMessages?: [number, number];
  /**
   * Pause of a publisher after each batch's PONG, in milliseconds: it paces the load.
   *
   * @default {10}
   */
  pauseMs?: number;
  /**
   * Longest wait for a PONG or a delivery, in milliseconds.
   *
   * @default {5000}
   */
  timeoutMs?: number;
}

const QUEUE = "soakers";
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const HELLO = 'CONNECT {"verbose":false,"pedantic":false,"lang":"soak"}\r\n';
const PONG = encoder.encode("PONG\r\n");

/**
 * Starts the publishers and subscribers.
 *
 * @param port The pub/sub server's port on 127.0.0.1.
 * @param options Clients, churn, pacing.
 * @returns The running load; its tally counts checked deliveries.
 */
export function startPubSubLoad(port: number, options: PubSubLoadOptions = {}): SoakLoad {
  const subscribers = options.subscribers ?? 4;
  const queueMembers = options.queueMembers ?? 2;
  const publishers = options.publishers ?? 2;
  const [minDeliveries, maxDeliveries] = options.deliveriesPerSession ?? [100, 2000];
  const [minBatches, maxBatches] = options.batchesPerSession ?? [200, 2000];
  const [minMessages, maxMessages] = options.batchMessages ?? [1, 20];
  const pauseMs = options.pauseMs ?? 10;
  // Message numbers go on across a publisher's connections: subscribers check for gaps.
  const published: number[] = Array(publishers).fill(0);

  const publish = async (publisher: number, load: SoakLoad): Promise<void> => {
    const connection = await load.connect(port);
    try {
      await greet(connection);
      await connection.write(encoder.encode(`${HELLO}PING\r\n`));
      await awaitPong(connection, "waiting for the publisher's first PONG");
      const batches = randomInt(minBatches, maxBatches);
      for (let i = 0; i < batches && load.running; i++) {
        const count = randomInt(minMessages, maxMessages);
        let text = "";
        for (let m = 0; m < count; m++) {
          const seq = published[publisher]++;
          const payload = pubsubPayload(publisher, seq);
          text += `PUB ${pubsubSubject(publisher, seq)} ${payload.length}\r\n${payload}\r\n`;
        }
        await connection.write(encoder.encode(`${text}PING\r\n`), "publishing a batch");
        await awaitPong(connection, "waiting for the PONG after a batch");
        await load.pause(pauseMs);
      }
    } finally {
      load.release(connection);
    }
  };

  const subscribe = async (client: number, queued: boolean, load: SoakLoad): Promise<void> => {
    const sid = String(client + 1);
    const connection = await load.connect(port);
    try {
      await greet(connection);
      // NATS puts the queue group before the sid: `SUB <subject> [queue] <sid>`.
      const queue = queued ? `${QUEUE} ` : "";
      await connection.write(
        encoder.encode(`${HELLO}SUB ${SOAK_SUBJECT_PREFIX}.> ${queue}${sid}\r\nPING\r\n`),
      );
      const last: number[] = Array(publishers).fill(-1);
      const check = (line: Uint8Array, payload: Uint8Array) =>
        checkDelivery(line, payload, { sid, queued, last, publishers });
      const wanted = randomInt(minDeliveries, maxDeliveries);
      let received = 0;
      while (received < wanted && load.running) {
        if (await receive(connection, check, "waiting for a delivery")) {
          received++;
          load.tally.ops++;
        }
      }
      if (!load.running || Math.random() < 0.5) return;
      await connection.write(encoder.encode(`UNSUB ${sid}\r\nPING\r\n`), "unsubscribing");
      // Deliveries sent before the UNSUB still come, and are checked, up to the PONG.
      let pongs = 0;
      while (pongs < 1) {
        const delivered = await receive(
          connection,
          check,
          "waiting for the PONG after UNSUB",
          () => {
            pongs++;
          },
        );
        if (delivered) load.tally.ops++;
      }
    } finally {
      load.release(connection);
    }
  };

  const session = (client: number, load: SoakLoad): Promise<void> => {
    if (client < subscribers) return subscribe(client, false, load);
    if (client < subscribers + queueMembers) return subscribe(client, true, load);
    return publish(client - subscribers - queueMembers, load);
  };
  return new SoakLoad("pubsub", subscribers + queueMembers + publishers, session, {
    timeoutMs: options.timeoutMs,
  });
}

/** Reads the server's INFO, the first line of every connection. */
async function greet(connection: SoakConnection): Promise<void> {
  const info = decoder.decode(await connection.readLine("waiting for INFO"));
  if (!info.startsWith("INFO ")) throw new SoakWrongAnswerError(`First line ${quote(info)}`);
}

/** Reads up to a PONG, answering the server's PINGs; a delivery here is a wrong answer. */
async function awaitPong(connection: SoakConnection, what: string): Promise<void> {
  while (true) {
    const line = decoder.decode(await connection.readLine(what));
    if (line === "PONG") return;
    if (line === "PING") await connection.write(PONG, "answering a PING");
    else throw new SoakWrongAnswerError(`${quote(line)} while ${what}`);
  }
}

/**
 * Reads one frame: a delivery (checked, true), or a PING (answered) or PONG (`onPong`), false.
 */
async function receive(
  connection: SoakConnection,
  check: (line: Uint8Array, payload: Uint8Array) => void,
  what: string,
  onPong?: () => void,
): Promise<boolean> {
  const line = await connection.readLine(what);
  // "MSG ": the one frame to parse; its payload's length is the last field.
  if (line[0] === 0x4d && line[1] === 0x53 && line[2] === 0x47 && line[3] === 0x20) {
    // The line's view dies at the next read: copy it before reading the payload.
    const head = line.slice();
    const size = Number(decoder.decode(head.subarray(head.lastIndexOf(0x20) + 1)));
    if (!Number.isInteger(size) || size < 0) {
      throw new SoakWrongAnswerError(`Delivery line ${quote(decoder.decode(head))}`);
    }
    const framed = await connection.readExact(size + 2, "reading a delivery's payload");
    if (framed[size] !== 0x0d || framed[size + 1] !== 0x0a) {
      throw new SoakWrongAnswerError(
        `Payload of ${quote(decoder.decode(head))} not followed by CRLF: ${
          quote(decoder.decode(framed))
        }`,
      );
    }
    check(head, framed.subarray(0, size));
    return true;
  }
  const text = decoder.decode(line);
  if (text === "PING") await connection.write(PONG, "answering a PING");
  else if (text === "PONG") onPong?.();
  else throw new SoakWrongAnswerError(`${quote(text)} while ${what}`);
  return false;
}

interface DeliveryCheck {
  sid: string;
  queued: boolean;
  /** The last message number seen from each publisher on this connection, -1 for none. */
  last: number[];
  publishers: number;
}

function checkDelivery(head: Uint8Array, payloadBytes: Uint8Array, state: DeliveryCheck): void {
  const line = decoder.decode(head);
  const fields = line.split(" ");
  const payload = decoder.decode(payloadBytes);
  const match = /^p(\d+) (\d+) /.exec(payload);
  const wrong = (why: string) =>
    new SoakWrongAnswerError(`${why}: ${quote(line)} ${quote(payload.slice(0, 60))}`);
  if (fields.length !== 4) throw wrong("Delivery line without 4 fields");
  if (fields[2] !== state.sid) throw wrong(`Delivery for sid ${state.sid} has another sid`);
  if (match === null) throw wrong("Payload of no soak message");
  const publisher = Number(match[1]);
  const seq = Number(match[2]);
  if (publisher >= state.publishers) throw wrong(`No publisher ${publisher}`);
  if (fields[1] !== pubsubSubject(publisher, seq)) throw wrong("Subject of another message");
  if (payload !== pubsubPayload(publisher, seq)) throw wrong("Payload damaged");
  const last = state.last[publisher];
  if (last >= 0) {
    if (state.queued && seq <= last) {
      throw wrong(`Queue member got p${publisher} #${seq} after #${last}`);
    }
    if (!state.queued && seq !== last + 1) {
      throw wrong(
        seq <= last
          ? `Got p${publisher} #${seq} again or out of order, after #${last}`
          : `Missed ${seq - last - 1} messages of p${publisher} (#${last + 1} to #${seq - 1})`,
      );
    }
  }
  state.last[publisher] = seq;
}

function quote(text: string): string {
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);
}
