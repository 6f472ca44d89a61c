/**
 * How a broker keeps its persistent sessions and retained messages in an {@linkcode MqttStore}:
 * it tells the store of each change, commits them in batches, and holds back what a client
 * must not see before the commit (see {@linkcode Persistence.write}).
 *
 * - A batch is what changed within the broker's `commitDelay` (1 ms by default; many reads
 *   under load): it is committed by a timer, in one transaction.
 * - Held until the commit: every write to a client that stands for durable state (PUBACK,
 *   PUBREC, PUBCOMP, SUBACK, CONNACK, QoS 2 deliveries, PUBREL). A QoS 0 or 1 delivery goes at
 *   once: if the broker dies first, its publisher, not yet acknowledged, sends it again, and QoS
 *   1 allows the duplicate.
 * - A delivery owed and acknowledged within one batch is never written at all, and one owed
 *   then sent is written once, with its packet id.
 * - A message owed to one session is kept in its delivery's row; one owed to several is written
 *   once, apart, and deleted with its last delivery.
 * - Only sessions that outlive their connection (expiry above 0) are written.
 *
 * @module
 */

import type { ConnectionHandle } from "../../core/connection_handle.ts";
import type { BrokerMessage, Owed, OwedRecord, Session } from "./mqtt_broker.ts";
import type { MqttStore } from "./mqtt_store.ts";
import type { SessionStateObserver } from "./mqtt_session_state.ts";
import type { SubscriptionEntry } from "./subscription_tree.ts";

/** A connection as the store's writes see it: its handle, and what is held for it. */
export interface HeldWrites {
  /** The connection's handle. */
  readonly to: ConnectionHandle;
  /** Writes (and closes: `null`) held until the commit, in order; `undefined`: none. */
  held: (Uint8Array | null)[] | undefined;
}

interface MessageRow {
  /** Its row; 0 until written. */
  id: number;
  refs: number;
}

/** A broker's link to its store. */
export class Persistence {
  /** The store. */
  readonly store: MqttStore;
  /**
   * Deliveries owed in this batch, to write at the commit: those whose record is gone by then
   * (acknowledged meanwhile, or their session ended) are not written.
   */
  #pending: Owed[] = [];
  readonly #messages = new Map<BrokerMessage, MessageRow>();
  /** The connections with writes held until the commit. */
  #holding: HeldWrites[] = [];
  #dirty = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #commitDelay: number;
  /** Commits done. */
  commits = 0;
  /**
   * Store operations that failed (a full disk, say): the first one is logged, and from then on
   * the broker goes on in memory only, writing nothing more to the store and holding nothing
   * back. Restart to use the store again.
   */
  failures = 0;
  #failed = false;

  /**
   * Makes the link.
   *
   * @param store The store.
   * @param commitDelay How long a batch stays open, in milliseconds (see
   *   `BrokerOptions.commitDelay`).
   */
  constructor(store: MqttStore, commitDelay = 1) {
    this.store = store;
    this.#commitDelay = commitDelay;
  }

  /**
   * Writes `bytes` to `to` now, or after the next commit when changes wait for it: a PUBACK,
   * PUBREC, PUBCOMP, SUBACK or QoS 2 delivery must not reach a client before what it stands for
   * is durable. An `early` write (a QoS 0 or 1 delivery) goes now. Everything after a held
   * write to the same connection is held too, so each connection's order stays.
   *
   * @param connection The connection, with what is held for it.
   * @param bytes What to write; `null` closes it.
   * @param early Whether it may go before the commit.
   */
  write(connection: HeldWrites, bytes: Uint8Array | null, early = false): void {
    // Kept past this call: copied (the broker's encoders reuse their buffers).
    const held = connection.held;
    if (held !== undefined) {
      held.push(bytes === null ? null : bytes.slice());
      return;
    }
    if (this.#dirty && !early && !this.#failed) {
      connection.held = [bytes === null ? null : bytes.slice()];
      this.#holding.push(connection);
      return;
    }
    if (bytes === null) connection.to.close();
    else connection.to.write(bytes);
  }

  /** Commits what changed, then lets the held writes go. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#dirty) {
      this.#dirty = false;
      this.#call((store) => {
        this.#writePending();
        store.commit();
        this.commits++;
      });
    }
    if (this.#holding.length === 0) return;
    const holding = this.#holding;
    this.#holding = [];
    for (const connection of holding) {
      const writes = connection.held!;
      connection.held = undefined;
      for (const bytes of writes) {
        if (bytes === null) connection.to.close();
        else connection.to.write(bytes);
      }
    }
  }

  /**
   * Marks a change, and commits it shortly: after this turn of the event loop and those that
   * follow within the commit delay, so that a delivery acknowledged meanwhile is never written.
   */
  #changed(): void {
    if (this.#dirty || this.#failed) return;
    this.#dirty = true;
    this.#timer = setTimeout(() => this.flush(), this.#commitDelay);
  }

  /** Runs a store operation, unless the store failed; a failure turns the store off. */
  #call(operation: (store: MqttStore) => void): void {
    if (this.#failed) return;
    try {
      operation(this.store);
    } catch (error) {
      this.failures++;
      this.#failed = true;
      this.#pending = [];
      console.error(
        `speedo mqtt: the store failed, the broker goes on in memory only (restart to use it again): ${error}`,
      );
    }
  }

  #writePending(): void {
    const store = this.store;
    const pending = this.#pending;
    this.#pending = [];
    for (const owed of pending) {
      const record = owed.record;
      if (record === undefined || record.row !== 0) continue;
      const entry = this.#messages.get(owed.message)!;
      // A message owed to one session goes in its delivery's row: one insert, not two.
      const inline = entry.id === 0 && entry.refs === 1;
      if (!inline && entry.id === 0) entry.id = store.putMessage(owed.message);
      record.row = store.putDelivery(record.clientId, {
        messageId: inline ? undefined : entry.id,
        message: inline ? owed.message : undefined,
        qos: owed.qos,
        retain: owed.retain,
        subscriptionIds: owed.subscriptionIds,
        packetId: record.packetId === 0 ? undefined : record.packetId,
        released: record.released,
      });
    }
  }

  /**
   * The session's observer: each change to what it owes goes to the store.
   *
   * @param session A persistent session.
   * @returns Its observer.
   */
  observer(session: Session): SessionStateObserver<Owed> {
    const clientId = session.clientId;
    return {
      queued: (owed) => {
        if (owed.qos === 0) return;
        this.#ref(owed.message);
        owed.record = { clientId, row: 0, packetId: 0, released: false };
        this.#pending.push(owed);
        this.#changed();
      },
      sent: (owed, packetId) => {
        if (owed.qos === 0) return;
        this.#track(owed, packetId, false);
      },
      released: (owed) => this.#track(owed, owed.record?.packetId ?? 0, true),
      done: (owed) => {
        const record = owed.record;
        if (record === undefined) return;
        owed.record = undefined;
        if (record.row !== 0) {
          const row = record.row;
          this.#call((store) => store.deleteDelivery(row));
        }
        this.#unref(owed.message);
        this.#changed();
      },
    };
  }

  #track(owed: Owed, packetId: number, released: boolean): void {
    const record = owed.record;
    if (record === undefined) return;
    record.packetId = packetId;
    record.released = released;
    if (record.row !== 0) {
      const row = record.row;
      this.#call((store) => store.updateDelivery(row, packetId, released));
    }
    this.#changed();
  }

  #ref(message: BrokerMessage): void {
    const row = this.#messages.get(message);
    if (row === undefined) this.#messages.set(message, { id: 0, refs: 1 });
    else row.refs++;
  }

  #unref(message: BrokerMessage): void {
    const row = this.#messages.get(message);
    if (row === undefined) return;
    if (--row.refs > 0) return;
    this.#messages.delete(message);
    if (row.id !== 0) this.#call((store) => store.deleteMessage(row.id));
  }

  /**
   * A session outlives its connection from now on: it is written whole (subscriptions, what
   * it owes, incoming QoS 2 ids), and each change after.
   *
   * @param session The session.
   * @param subscriptions Its subscriptions.
   */
  persist(session: Session, subscriptions: readonly SubscriptionEntry[]): void {
    session.persisted = true;
    this.saveSession(session);
    for (const subscription of subscriptions) {
      this.#call((store) => store.putSubscription(session.clientId, subscription));
    }
    const observer = this.observer(session);
    for (const { message, packetId, released } of session.state.owed()) {
      observer.queued(message);
      if (packetId !== undefined) observer.sent(message, packetId);
      if (released === true) observer.released(message);
    }
    for (const packetId of session.state.incomingQos2) {
      this.#call((store) => store.putIncomingQos2(session.clientId, packetId));
    }
    session.state.observer = observer;
    this.#changed();
  }

  /**
   * Puts back a session read from the store, as it was written.
   *
   * @param session The session, its state restored.
   * @param rows Each delivery it owes, with where it stands in the store.
   * @param messageIds The store's row of each message kept apart.
   */
  restored(
    session: Session,
    rows: Iterable<[Owed, OwedRecord]>,
    messageIds: ReadonlyMap<BrokerMessage, number>,
  ): void {
    session.persisted = true;
    for (const [owed, record] of rows) {
      owed.record = record;
      const message = this.#messages.get(owed.message);
      if (message === undefined) {
        // A message kept in its delivery's row has no row of its own: 0.
        this.#messages.set(owed.message, { id: messageIds.get(owed.message) ?? 0, refs: 1 });
      } else message.refs++;
    }
    session.state.observer = this.observer(session);
  }

  /**
   * Writes the session's row: its expiry, and when its client went away.
   *
   * @param session A persistent session.
   * @param disconnectedAt When its client went away; absent: connected.
   */
  saveSession(session: Session, disconnectedAt?: number): void {
    if (!session.persisted) return;
    this.#call((store) =>
      store.putSession({
        clientId: session.clientId,
        expiryInterval: session.expiryInterval,
        ...(disconnectedAt === undefined ? {} : { disconnectedAt }),
      })
    );
    this.#changed();
  }

  /**
   * The session ended: it leaves the store with all that is its.
   *
   * @param session The session.
   */
  forget(session: Session): void {
    if (!session.persisted) return;
    session.persisted = false;
    session.state.observer = undefined;
    for (const { message } of session.state.owed()) {
      if (message.record === undefined) continue;
      message.record = undefined;
      this.#unref(message.message);
    }
    this.#call((store) => store.deleteSession(session.clientId));
    this.#changed();
  }

  /**
   * A subscription of a persistent session was made or changed.
   *
   * @param session The session.
   * @param subscription The subscription.
   */
  subscribed(session: Session, subscription: SubscriptionEntry): void {
    if (!session.persisted) return;
    this.#call((store) => store.putSubscription(session.clientId, subscription));
    this.#changed();
  }

  /**
   * A subscription of a persistent session was removed.
   *
   * @param session The session.
   * @param filter Its filter.
   */
  unsubscribed(session: Session, filter: string): void {
    if (!session.persisted) return;
    this.#call((store) => store.deleteSubscription(session.clientId, filter));
    this.#changed();
  }

  /**
   * An incoming QoS 2 message now awaits PUBREL (`awaiting`), or no longer does.
   *
   * @param session The publisher's session.
   * @param packetId Its packet id.
   * @param awaiting Whether it awaits PUBREL.
   */
  incomingQos2(session: Session, packetId: number, awaiting: boolean): void {
    if (!session.persisted) return;
    if (awaiting) this.#call((store) => store.putIncomingQos2(session.clientId, packetId));
    else this.#call((store) => store.deleteIncomingQos2(session.clientId, packetId));
    this.#changed();
  }

  /**
   * A retained message was kept (`message`), or its topic's was removed (`undefined`).
   *
   * @param topic The topic.
   * @param message The message kept.
   */
  retained(topic: string, message: BrokerMessage | undefined): void {
    if (message === undefined) this.#call((store) => store.deleteRetained(topic));
    else this.#call((store) => store.putRetained(message));
    this.#changed();
  }

  /** Commits what is left and closes the store. */
  close(): void {
    this.flush();
    try {
      this.store.close();
    } catch (error) {
      if (!this.#failed) console.error(`speedo mqtt: the store failed to close: ${error}`);
    }
  }
}
