/**
 * Which loop holds a session's file, when a session server runs on several I/O loops
 * (`ServerOptions.loops`): each loop has its own session table, and a name's file must have
 * one writer. A loop holds a name while the name is in its table (attached or detached); a
 * loop that does not hold a name claims it from every other loop before it opens the file.
 *
 * Messages, through {@linkcode LoopContext.send} (a claim's ticket is its Lamport `clock` and
 * the claiming loop's index, ordered by clock, then index):
 *
 * | message                          | sent by         | meaning                                        |
 * | -------------------------------- | --------------- | ---------------------------------------------- |
 * | `{ t: "claim", name, clock }`    | the claiming loop, to every other | "I want `name`'s file"       |
 * | `{ t: "released", name, clock, history }` | each other loop | "I hold `name` no more" (it closed it first), with the name's takeover history |
 * | `{ t: "superseded", name, clock }` | a loop claiming `name` with a newer ticket | "give up" |
 * | `{ t: "refused", name, clock, reason }` | the loop holding `name` | "it changed hands too often" (`_takeover_limit.ts`) |
 *
 * A loop receiving a claim for `name`:
 *
 * | its state for `name`                 | what it does                                        |
 * | ------------------------------------ | --------------------------------------------------- |
 * | holds it                             | closes the session (its connection, then its file), answers `released`; or, past the takeover limit, keeps it and answers `refused` |
 * | claims it, with an older ticket      | gives up its own claim (its logins closed), answers `released` |
 * | claims it, with a newer ticket       | answers `superseded`                                |
 * | nothing                              | answers `released`                                  |
 *
 * A claim with every other loop's `released` is granted: the file is free, and the loop opens
 * it, with the takeover history the holder handed over (so the limit holds per name, across
 * loops). A `refused` ends the claim at once: the login is refused with the reason. Of claims racing for one name, the newest ticket wins and the others give up, as an
 * older connection gives way at a relogin on one loop. Safety does not rest on timing: a loop
 * answers `released` only after it closed the file, and a loop claiming never answers
 * `released` to an older claim without giving its own up. A loop that was replaced holds
 * nothing, so its answer is no longer awaited; a claim unanswered for the timeout (a message
 * lost to a loop that was starting) gives up, which is safe too.
 *
 * Cost: one round trip per login of a name this loop does not hold (a message to and from
 * each other loop); nothing with one loop, nor at a relogin on the loop that holds the name.
 *
 * @module
 */

import type { LoopContext } from "../../core/loop_context.ts";

/** What the claims reach of the loop's session table. */
export interface SessionHolder {
  /** Whether the table holds `name` (attached or detached). */
  holds(name: string): boolean;
  /**
   * Lets go of `name` for another loop's claim: closes its session, if held (its connection,
   * then its file), and takes it out of the table, handing over the name's takeover history;
   * or keeps it and answers why the claim is refused (the name changed hands too often).
   */
  release(name: string): { history: number[] } | { refused: string };
}

/** How a claim ended: granted with the name's takeover history, or not (refused, with why). */
export type ClaimOutcome =
  | { readonly granted: true; readonly history: readonly number[] }
  | { readonly granted: false; readonly refused?: string };

/** A message of the claims between loops; see the module doc. */
export type ClaimMessage =
  | { t: "claim"; name: string; clock: number }
  | { t: "released"; name: string; clock: number; history?: number[] }
  | { t: "superseded"; name: string; clock: number }
  | { t: "refused"; name: string; clock: number; reason: string };

/** A claim of this loop, waiting for the others' answers. */
interface Claim {
  readonly clock: number;
  readonly waiting: Set<number>;
  readonly done: ((outcome: ClaimOutcome) => void)[];
  readonly timer: ReturnType<typeof setTimeout>;
  /** The takeover history handed over with the `released` answers. */
  readonly history: number[];
}

/** The claims of one loop's session table; see the module doc. */
export class SessionClaims {
  readonly #loop: LoopContext;
  readonly #holder: SessionHolder;
  readonly #timeout: number;
  readonly #claims = new Map<string, Claim>();
  #clock = 0;
  #closed = false;

  /**
   * @param loop The loop this table runs on.
   * @param holder The table.
   * @param timeout Time a claim waits for its answers before it gives up, in ms.
   */
  constructor(loop: LoopContext, holder: SessionHolder, timeout: number) {
    this.#loop = loop;
    this.#holder = holder;
    this.#timeout = timeout;
    loop.receive((from, message) => this.#receive(from, message as ClaimMessage));
    loop.replaced((index) => this.#replaced(index));
  }

  /** Claims still waiting for answers. */
  get pending(): number {
    return this.#claims.size;
  }

  /**
   * Claims `name` from the other loops; `done({ granted: true, history })` once they all let
   * go of it, `done({ granted: false })` when a newer claim won (or the answers did not come in
   * time), `done({ granted: false, refused })` when the holder refused it. A second claim of a
   * name waiting already joins the first.
   */
  claim(name: string, done: (outcome: ClaimOutcome) => void): void {
    if (this.#closed) return done({ granted: false });
    const waiting = this.#claims.get(name);
    if (waiting !== undefined) {
      waiting.done.push(done);
      return;
    }
    const clock = ++this.#clock;
    const others = new Set<number>();
    for (let loop = 0; loop < this.#loop.count; loop++) {
      if (loop !== this.#loop.index) others.add(loop);
    }
    const timer = setTimeout(() => this.#settle(name, false), this.#timeout);
    this.#claims.set(name, { clock, waiting: others, done: [done], timer, history: [] });
    for (const loop of others) this.#loop.send(loop, { t: "claim", name, clock });
  }

  /** Gives up every claim waiting: the table closes. Claims are answered still. */
  close(): void {
    this.#closed = true;
    for (const name of [...this.#claims.keys()]) this.#settle(name, false);
  }

  #receive(from: number, message: ClaimMessage): void {
    const { name, clock } = message;
    const mine = this.#claims.get(name);
    switch (message.t) {
      case "claim": {
        this.#clock = Math.max(this.#clock, clock);
        if (
          mine !== undefined &&
          (mine.clock > clock || (mine.clock === clock && this.#loop.index > from))
        ) {
          this.#loop.send(from, { t: "superseded", name, clock });
          return;
        }
        if (mine !== undefined) this.#settle(name, false);
        const answer = this.#holder.release(name);
        if ("refused" in answer) {
          this.#loop.send(from, { t: "refused", name, clock, reason: answer.refused });
        } else {
          this.#loop.send(from, { t: "released", name, clock, history: answer.history });
        }
        return;
      }
      case "released":
        if (mine === undefined || mine.clock !== clock) return;
        mine.waiting.delete(from);
        if (message.history !== undefined) mine.history.push(...message.history);
        if (mine.waiting.size === 0) this.#settle(name, true);
        return;
      case "superseded":
        if (mine !== undefined && mine.clock === clock) this.#settle(name, false);
        return;
      case "refused":
        if (mine !== undefined && mine.clock === clock) {
          this.#settle(name, false, message.reason);
        }
        return;
    }
  }

  /** Loop `index` was replaced: it holds nothing now, and its answers are not awaited. */
  #replaced(index: number): void {
    for (const [name, claim] of [...this.#claims]) {
      if (!claim.waiting.delete(index)) continue;
      if (claim.waiting.size === 0) this.#settle(name, true);
    }
  }

  #settle(name: string, granted: boolean, refused?: string): void {
    const claim = this.#claims.get(name);
    if (claim === undefined) return;
    this.#claims.delete(name);
    clearTimeout(claim.timer);
    const outcome: ClaimOutcome = granted && !this.#closed
      ? { granted: true, history: claim.history }
      : refused === undefined
      ? { granted: false }
      : { granted: false, refused };
    for (const done of claim.done) done(outcome);
  }
}
