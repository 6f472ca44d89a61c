/**
 * How a broker keeps its persistent sessions and retained messages in an {@linkcode MqttStore}:
 * it tells the store of each change, commits them in batches, and holds back what a client
 * must not see before the commit (see {@linkcode Persistence.write}).
 *
 * - A batch is what changed during one turn of the event loop (one read, usually): it is
 *   committed in a microtask, in one transaction.
 * - A delivery owed and acknowledged within one batch is never written at all, and one owed
 *   then sent is written once, with its packet id.
 * - A message is written once, however many sessions it is owed to, and deleted with its last
 *   delivery.
 * - Only sessions that outlive their connection (expiry above 0) are written.
 *
 * @module
 */

import type { BrokerMessage, Owed, Session } from "./mqtt_broker.ts";
import type { MqttStore } from "./mqtt_store.ts";
import type { SessionStateObserver } from "./mqtt_session_state.ts";
import type { SubscriptionEntry } from "./subscription_tree.ts";

/** Where a write held back goes: a connection's handle. */
export interface Writable {
  /** Writes bytes. */
  write(bytes: Uint8Array): unknown;
  /** Closes after what was written. */
  close(): unknown;
}

interface PendingDelivery {
  readonly clientId: string;
  packetId: number | undefined;
  released: boolean;
}

interface WrittenDelivery {
  readonly row: number;
  packetId: number;
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
  /** Deliveries owed in this batch, not yet written. */
  readonly #pending = new Map<Owed, PendingDelivery>();
  /** Deliveries written, by the owed object the session holds. */
  readonly #written = new WeakMap<Owed, WrittenDelivery>();
  readonly #messages = new Map<BrokerMessage, MessageRow>();
  /** Writes (and closes: `null`) held until the commit, in order. */
  #held: [Writable, Uint8Array | null][] = [];
  #dirty = false;
  /** Commits done. */
  commits = 0;
  /** Commits that failed (the broker then stops holding writes back and logs it). */
  failures = 0;

  /**
   * Makes the link.
   *
   * @param store The store.
   */
  constructor(store: MqttStore) {
    this.store = store;
  }

  /**
   * Writes `bytes` to `to` now, or after the next commit when changes are waiting for it: a
   * PUBACK, PUBREC or delivery must not reach a client before what it stands for is durable.
   * Everything after a held write is held too, so each connection's order stays.
   *
   * @param to The connection.
   * @param bytes What to write; `null` closes it.
   */
  write(to: Writable, bytes: Uint8Array | null): void {
    if (!this.#dirty && this.#held.length === 0) {
      if (bytes === null) to.close();
      else to.write(bytes);
      return;
    }
    this.#held.push([to, bytes]);
  }

  /** Commits what changed, then lets the held writes go. */
  flush(): void {
    if (this.#dirty) {
      this.#dirty = false;
      try {
        this.#writePending();
        this.store.commit();
        this.commits++;
      } catch (error) {
        this.failures++;
        console.error(`speedo mqtt: the store failed to commit: ${error}`);
      }
    }
    const held = this.#held;
    if (held.length === 0) return;
    this.#held = [];
    for (const [to, bytes] of held) {
      if (bytes === null) to.close();
      else to.write(bytes);
    }
  }

  /** Marks a change, and commits it at the end of this turn. */
  #changed(): void {
    if (this.#dirty) return;
    this.#dirty = true;
    queueMicrotask(() => this.flush());
  }

  #writePending(): void {
    const store = this.store;
    for (const [owed, pending] of this.#pending) {
      const message = this.#messages.get(owed.message)!;
      if (message.id === 0) message.id = store.putMessage(owed.message);
      const row = store.putDelivery(pending.clientId, {
        messageId: message.id,
        qos: owed.qos,
        retain: owed.retain,
        subscriptionIds: owed.subscriptionIds,
        ...(pending.packetId === undefined ? {} : { packetId: pending.packetId }),
        released: pending.released,
      });
      this.#written.set(owed, { row, packetId: pending.packetId ?? 0 });
    }
    this.#pending.clear();
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
        this.#pending.set(owed, { clientId, packetId: undefined, released: false });
        this.#changed();
      },
      sent: (owed, packetId) => {
        if (owed.qos === 0) return;
        this.#track(owed, packetId, false);
      },
      released: (owed) => {
        const pending = this.#pending.get(owed);
        this.#track(owed, pending?.packetId ?? this.#written.get(owed)?.packetId ?? 0, true);
      },
      done: (owed) => {
        if (owed.qos === 0) return;
        if (!this.#pending.delete(owed)) {
          const written = this.#written.get(owed);
          if (written !== undefined) this.store.deleteDelivery(written.row);
        }
        this.#unref(owed.message);
        this.#changed();
      },
    };
  }

  #track(owed: Owed, packetId: number, released: boolean): void {
    const pending = this.#pending.get(owed);
    if (pending !== undefined) {
      pending.packetId = packetId;
      pending.released = released;
    } else {
      const written = this.#written.get(owed);
      if (written === undefined) return;
      written.packetId = packetId;
      this.store.updateDelivery(written.row, packetId, released);
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
    if (row.id !== 0) this.store.deleteMessage(row.id);
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
      this.store.putSubscription(session.clientId, subscription);
    }
    const observer = this.observer(session);
    for (const { message, packetId, released } of session.state.owed()) {
      observer.queued(message);
      if (packetId !== undefined) observer.sent(message, packetId);
      if (released === true) observer.released(message);
    }
    for (const packetId of session.state.incomingQos2) {
      this.store.putIncomingQos2(session.clientId, packetId);
    }
    session.state.observer = observer;
    this.#changed();
  }

  /**
   * Puts back a session read from the store, as it was written.
   *
   * @param session The session, its state restored.
   * @param rows The store's row of each delivery it owes, with its packet id.
   * @param messageIds The store's row of each message.
   */
  restored(
    session: Session,
    rows: Iterable<[Owed, number, number]>,
    messageIds: ReadonlyMap<BrokerMessage, number>,
  ): void {
    session.persisted = true;
    for (const [owed, row, packetId] of rows) {
      this.#written.set(owed, { row, packetId });
      const message = this.#messages.get(owed.message);
      if (message === undefined) {
        this.#messages.set(owed.message, { id: messageIds.get(owed.message)!, refs: 1 });
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
    this.store.putSession({
      clientId: session.clientId,
      expiryInterval: session.expiryInterval,
      ...(disconnectedAt === undefined ? {} : { disconnectedAt }),
    });
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
      if (message.qos === 0) continue;
      this.#pending.delete(message);
      this.#unref(message.message);
    }
    this.store.deleteSession(session.clientId);
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
    this.store.putSubscription(session.clientId, subscription);
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
    this.store.deleteSubscription(session.clientId, filter);
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
    if (awaiting) this.store.putIncomingQos2(session.clientId, packetId);
    else this.store.deleteIncomingQos2(session.clientId, packetId);
    this.#changed();
  }

  /**
   * A retained message was kept (`message`), or its topic's was removed (`undefined`).
   *
   * @param topic The topic.
   * @param message The message kept.
   */
  retained(topic: string, message: BrokerMessage | undefined): void {
    if (message === undefined) this.store.deleteRetained(topic);
    else this.store.putRetained(message);
    this.#changed();
  }

  /** Commits what is left and closes the store. */
  close(): void {
    this.flush();
    this.store.close();
  }
}
