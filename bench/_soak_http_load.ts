/**
 * The HTTP part of the soak load (`soak.ts`): keep-alive clients on raw sockets (the request
 * bytes written here, the status line, headers and `content-length` body parsed here: cheaper
 * than `fetch`, and the churn is ours to decide). A client sends 1 to 4 requests pipelined in
 * one write, a quarter of them `POST`s with a body the server must send back, and after a
 * random 20 to 200 requests its last one says `Connection: close`: the server must answer it,
 * say `connection: close`, and close the connection, and the client then reconnects.
 *
 * Every response is checked: status 200, a `content-length`, the body byte for byte, and the
 * `connection` header.
 *
 * @module
 */

import type { SoakConnection } from "./_soak_connection.ts";
import { randomInt, SoakLoad } from "./_soak_load.ts";
import { filler, httpBody } from "./_soak_payloads.ts";
import { SoakWrongAnswerError } from "./_soak_tally.ts";

/** Options of {@linkcode startHttpLoad}. */
export interface HttpLoadOptions {
  /**
   * Clients side by side.
   *
   * @default {8}
   */
  clients?: number;
  /**
   * Requests of one connection, the last with `Connection: close`: a random count in these
   * bounds, both included.
   *
   * @default {[20, 200]}
   */
  requestsPerConnection?: [number, number];
  /**
   * Requests pipelined in one write: a random count in these bounds.
   *
   * @default {[1, 4]}
   */
  pipelined?: [number, number];
  /**
   * Pause of a client after each write's responses, in milliseconds: it paces the load.
   *
   * @default {10}
   */
  pauseMs?: number;
  /**
   * Longest wait for a response, in milliseconds.
   *
   * @default {5000}
   */
  timeoutMs?: number;
}

/** Largest body of a `POST` (random from 0): a few reads' worth for the server's parser. */
const MAX_POST_BODY = 4096;
/** Largest filler a `GET` asks for. */
const MAX_GET_PAD = 2000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A request sent and the response it must get. */
interface Expected {
  request: string;
  body: string;
  closing: boolean;
}

/**
 * Starts the HTTP clients.
 *
 * @param port The HTTP server's port on 127.0.0.1.
 * @param options Clients, churn, pacing.
 * @returns The running load; its tally counts checked responses.
 */
export function startHttpLoad(port: number, options: HttpLoadOptions = {}): SoakLoad {
  const [minRequests, maxRequests] = options.requestsPerConnection ?? [20, 200];
  const [minPipelined, maxPipelined] = options.pipelined ?? [1, 4];
  const pauseMs = options.pauseMs ?? 10;
  const seqs: number[] = [];

  const request = (client: number, closing: boolean): { bytes: string; expected: Expected } => {
    const seq = seqs[client]++;
    const close = closing ? "Connection: close\r\n" : "";
    if (seq % 4 === 3) {
      const body = filler(seq, randomInt(0, MAX_POST_BODY));
      const line = `POST /soak/${client}/${seq} HTTP/1.1`;
      return {
        bytes:
          `${line}\r\nHost: 127.0.0.1\r\n${close}Content-Length: ${body.length}\r\n\r\n${body}`,
        expected: { request: line, body, closing },
      };
    }
    const path = `/soak/${client}/${seq}`;
    const pad = (seq * 31) % MAX_GET_PAD;
    const line = `GET ${path}?pad=${pad} HTTP/1.1`;
    return {
      bytes: `${line}\r\nHost: 127.0.0.1\r\n${close}\r\n`,
      expected: { request: line, body: httpBody(path, pad), closing },
    };
  };

  const session = async (client: number, load: SoakLoad): Promise<void> => {
    seqs[client] ??= 0;
    const connection = await load.connect(port);
    try {
      const total = randomInt(minRequests, maxRequests);
      let done = 0;
      while (done < total && load.running) {
        const count = Math.min(randomInt(minPipelined, maxPipelined), total - done);
        let text = "";
        const expected: Expected[] = [];
        for (let i = 0; i < count; i++) {
          const { bytes, expected: one } = request(client, done + i === total - 1);
          text += bytes;
          expected.push(one);
        }
        await connection.write(encoder.encode(text), "writing requests");
        for (const one of expected) await readResponse(connection, one);
        done += count;
        load.tally.ops += count;
        await load.pause(pauseMs);
      }
      if (done < total) return;
      const stray = await connection.readToEnd("waiting for the close after Connection: close");
      if (stray > 0) {
        throw new SoakWrongAnswerError(`${stray} bytes came after the Connection: close response`);
      }
    } finally {
      load.release(connection);
    }
  };
  return new SoakLoad("http", options.clients ?? 8, session, { timeoutMs: options.timeoutMs });
}

async function readResponse(connection: SoakConnection, expected: Expected): Promise<void> {
  const what = `waiting for the response to ${expected.request}`;
  const wrong = (why: string) =>
    new SoakWrongAnswerError(`${expected.request}${expected.closing ? " (close)" : ""}: ${why}`);
  const status = decoder.decode(await connection.readLine(what));
  if (!status.startsWith("HTTP/1.1 200 ")) throw wrong(`status line ${JSON.stringify(status)}`);
  let length = -1;
  let connectionField = "";
  while (true) {
    const line = decoder.decode(await connection.readLine(what));
    if (line === "") break;
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "content-length") length = Number(value);
    else if (name === "connection") connectionField = value.toLowerCase();
  }
  if (!Number.isInteger(length) || length < 0) throw wrong("no content-length");
  if (expected.closing !== (connectionField === "close")) {
    throw wrong(`connection header ${JSON.stringify(connectionField)}`);
  }
  const body = decoder.decode(await connection.readExact(length, what));
  if (body !== expected.body) {
    throw wrong(
      `body of ${length} bytes differs: ${JSON.stringify(body.slice(0, 60))}, expected ${
        JSON.stringify(expected.body.slice(0, 60))
      } (${expected.body.length} bytes)`,
    );
  }
}
