/**
 * The echo part of the soak load (`soak.ts`): clients that send lines in pipelined batches,
 * check that every byte comes back (endings included), and churn: after a random number of
 * round trips, a client leaves and reconnects, in one of three ways, since each takes another
 * path through the server:
 *
 * | way        | share | what the client does                                   | checked                          |
 * | ---------- | ----- | ------------------------------------------------------ | -------------------------------- |
 * | close      | 70 %  | closes after its last echo                             | nothing more                     |
 * | half-close | 20 %  | sends FIN, waits for the server to close in turn       | EOF with no stray bytes, in time |
 * | abort      | 10 %  | sends a batch and closes without reading (an RST)      | nothing: the server must cope    |
 *
 * @module
 */

import { randomInt, SoakLoad } from "./_soak_load.ts";
import { echoLine } from "./_soak_payloads.ts";
import { SoakWrongAnswerError } from "./_soak_tally.ts";

/** Options of {@linkcode startEchoLoad}. */
export interface EchoLoadOptions {
  /**
   * Clients side by side.
   *
   * @default {16}
   */
  clients?: number;
  /**
   * Round trips of one connection: a random count in these bounds, both included.
   *
   * @default {[50, 500]}
   */
  roundTrips?: [number, number];
  /**
   * Lines in one batch (one write): a random count in these bounds.
   *
   * @default {[1, 16]}
   */
  batchLines?: [number, number];
  /**
   * Pause of a client between round trips, in milliseconds: it paces the load so that the
   * machine is busy but not saturated.
   *
   * @default {10}
   */
  pauseMs?: number;
  /**
   * Longest wait for an echo, in milliseconds.
   *
   * @default {5000}
   */
  timeoutMs?: number;
}

const encoder = new TextEncoder();

/**
 * Starts the echo clients.
 *
 * @param port The echo server's port on 127.0.0.1.
 * @param options Clients, churn, pacing.
 * @returns The running load; its tally counts echoed lines.
 */
export function startEchoLoad(port: number, options: EchoLoadOptions = {}): SoakLoad {
  const [minTrips, maxTrips] = options.roundTrips ?? [50, 500];
  const [minLines, maxLines] = options.batchLines ?? [1, 16];
  const pauseMs = options.pauseMs ?? 10;
  // Line numbers go on across a client's connections, so that no two lines of a client match.
  const seqs: number[] = [];
  const batch = (client: number): { bytes: Uint8Array; lines: number } => {
    const lines = randomInt(minLines, maxLines);
    let text = "";
    for (let i = 0; i < lines; i++) text += echoLine(client, seqs[client]++);
    return { bytes: encoder.encode(text), lines };
  };

  const session = async (client: number, load: SoakLoad): Promise<void> => {
    seqs[client] ??= 0;
    const connection = await load.connect(port);
    try {
      const trips = randomInt(minTrips, maxTrips);
      for (let trip = 0; trip < trips && load.running; trip++) {
        const { bytes, lines } = batch(client);
        await connection.write(bytes, "writing a batch");
        const echoed = await connection.readExact(bytes.length, "waiting for echoes");
        check(bytes, echoed, client);
        load.tally.ops += lines;
        await load.pause(pauseMs);
      }
      if (!load.running) return;
      const way = Math.random();
      if (way < 0.1) {
        await connection.write(batch(client).bytes, "writing the batch before an abort");
      } else if (way < 0.3) {
        await connection.closeWrite();
        const stray = await connection.readToEnd("waiting for the close after a half-close");
        if (stray > 0) {
          throw new SoakWrongAnswerError(`${stray} bytes came after every line was echoed`);
        }
      }
    } finally {
      load.release(connection);
    }
  };
  return new SoakLoad("echo", options.clients ?? 16, session, { timeoutMs: options.timeoutMs });
}

function check(sent: Uint8Array, echoed: Uint8Array, client: number): void {
  for (let i = 0; i < sent.length; i++) {
    if (sent[i] !== echoed[i]) {
      const decoder = new TextDecoder();
      const from = Math.max(0, i - 20);
      throw new SoakWrongAnswerError(
        `client ${client}: echo differs at byte ${i} of ${sent.length}: sent ${
          JSON.stringify(decoder.decode(sent.subarray(from, i + 20)))
        }, got ${JSON.stringify(decoder.decode(echoed.subarray(from, i + 20)))}`,
      );
    }
  }
}
