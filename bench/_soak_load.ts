/**
 * The skeleton every protocol's soak load shares (`soak.ts`): N clients, each running one
 * session after another (a session is one connection's life: connect, work, close), until the
 * load is stopped. A failed session is counted in the {@linkcode SoakTally} and the client
 * reconnects after a short pause; stopping closes every open socket at once, so that no client
 * waits out its deadline, and the errors those closes raise are not counted.
 *
 * @module
 */

import { SoakConnection, type SoakConnectionOptions } from "./_soak_connection.ts";
import { SoakTally } from "./_soak_tally.ts";

/** What a session gets: its client's number and the load, to open sockets and pause. */
export type SoakSession = (client: number, load: SoakLoad) => Promise<void>;

/** Options of {@linkcode SoakLoad}. */
export interface SoakLoadOptions extends SoakConnectionOptions {
  /**
   * Pause of a client after a failed session, in milliseconds, so that a server that refuses
   * every connection is not hammered in a tight loop.
   *
   * @default {100}
   */
  retryPauseMs?: number;
}

/** One protocol's clients, running until {@linkcode SoakLoad.stop}. */
export class SoakLoad {
  /** What the clients counted. */
  readonly tally: SoakTally;
  readonly #connectionOptions: SoakConnectionOptions;
  readonly #retryPauseMs: number;
  #running = true;
  readonly #open = new Set<SoakConnection>();
  readonly #sleepers = new Set<() => void>();
  readonly #clients: Promise<void>[] = [];

  /**
   * Starts the clients.
   *
   * @param name The protocol, in reports.
   * @param clients How many clients run sessions side by side.
   * @param session One connection's life; it throws to report an error.
   * @param options Deadlines.
   */
  constructor(name: string, clients: number, session: SoakSession, options: SoakLoadOptions = {}) {
    this.tally = new SoakTally(name);
    this.#connectionOptions = options;
    this.#retryPauseMs = options.retryPauseMs ?? 100;
    for (let client = 0; client < clients; client++) {
      this.#clients.push(this.#run(client, session));
    }
  }

  /** False once {@linkcode stop} was called: sessions end at their next step. */
  get running(): boolean {
    return this.#running;
  }

  /**
   * Opens a connection that {@linkcode stop} will close, and counts it.
   *
   * @param port The server's port on 127.0.0.1.
   * @returns The connection; the session closes it with {@linkcode SoakLoad.release}.
   */
  async connect(port: number): Promise<SoakConnection> {
    const connection = await SoakConnection.open(port, this.#connectionOptions);
    this.tally.connections++;
    if (!this.#running) {
      // stop() ran during the connect: it did not see this socket.
      connection.close();
    } else {
      this.#open.add(connection);
    }
    return connection;
  }

  /**
   * Closes a connection of this load.
   *
   * @param connection What {@linkcode SoakLoad.connect} returned.
   */
  release(connection: SoakConnection): void {
    connection.close();
    this.#open.delete(connection);
  }

  /**
   * Waits, or less if the load is stopped meanwhile.
   *
   * @param ms How long.
   */
  pause(ms: number): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleepers.add(wake);
    });
  }

  /** Stops the clients, closes their sockets, and resolves once every client returned. */
  async stop(): Promise<void> {
    this.#running = false;
    for (const connection of this.#open) connection.close();
    this.#open.clear();
    for (const wake of [...this.#sleepers]) wake();
    await Promise.all(this.#clients);
  }

  async #run(client: number, session: SoakSession): Promise<void> {
    while (this.#running) {
      try {
        await session(client, this);
      } catch (error) {
        // A socket closed by stop() throws in its session: that is the end, not an error.
        if (!this.#running) return;
        this.tally.fail(error, `${this.tally.name} client ${client}`);
        await this.pause(this.#retryPauseMs);
      }
    }
  }
}

/**
 * A random integer between two bounds, both included.
 *
 * @param min The lowest.
 * @param max The highest.
 * @returns The integer.
 */
export function randomInt(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}
