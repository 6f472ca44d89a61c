/**
 * One run of an enhanced authentication method, bounded: its rounds counted, its time limited,
 * its answers checked, a method that throws turned into a refusal. No I/O: the connection
 * writes what the outcome says.
 *
 * @module
 */

import type { Identity } from "../../core/authentication.ts";
import type {
  MqttAuthExchange,
  MqttAuthMethod,
  MqttAuthRequest,
  MqttEnhancedAuthOptions,
} from "./mqtt_enhanced_auth.ts";
import { ReasonCode } from "./reason_codes.ts";

/** What the connection does after a step. */
export type AuthOutcome =
  | { readonly kind: "continue"; readonly data: Uint8Array }
  | { readonly kind: "success"; readonly identity: Identity; readonly data?: Uint8Array }
  | { readonly kind: "refused"; readonly reasonCode: number; readonly why: string };

/** `enhancedAuth` with its defaults, checked. */
export interface AuthLimits {
  readonly methods: MqttEnhancedAuthOptions["methods"];
  readonly maxRounds: number;
  readonly timeout: number;
}

const REFUSAL_CODES = new Set<number>([0x86, 0x87, 0x8a, 0x8c]);

/**
 * Checks `enhancedAuth` and fills in its defaults.
 *
 * @throws {TypeError} When a method is not a function.
 * @throws {RangeError} When a bound is out of range.
 */
export function authLimits(options: MqttEnhancedAuthOptions): AuthLimits {
  if (options === null || typeof options.methods !== "object" || options.methods === null) {
    throw new TypeError("enhancedAuth.methods must be an object of methods by name");
  }
  for (const [name, method] of Object.entries(options.methods)) {
    if (typeof method !== "function") {
      throw new TypeError(`enhancedAuth.methods["${name}"] must be a function, got ${method}`);
    }
  }
  const maxRounds = options.maxRounds ?? 4;
  if (!Number.isInteger(maxRounds) || maxRounds < 0 || maxRounds > 1000) {
    throw new RangeError(
      `enhancedAuth.maxRounds must be an integer from 0 to 1000, got ${maxRounds}`,
    );
  }
  const timeout = options.timeout ?? 10_000;
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 2 ** 31 - 1) {
    throw new RangeError(`enhancedAuth.timeout must be a positive integer, got ${timeout}`);
  }
  return { methods: { ...options.methods }, maxRounds, timeout };
}

/**
 * The method called `name`, when `limits` has one (own names only: `"toString"` is no method).
 */
export function authMethod(
  limits: AuthLimits | undefined,
  name: string,
): MqttAuthMethod | undefined {
  return limits !== undefined && Object.hasOwn(limits.methods, name)
    ? limits.methods[name]
    : undefined;
}

/** One exchange, from its first data to its success or refusal. */
export class AuthRun {
  /** The method's name, which every AUTH of the exchange repeats. */
  readonly method: string;
  /** Whether it re-authenticates an accepted connection. */
  readonly reauthentication: boolean;
  readonly #start: MqttAuthMethod;
  readonly #request: MqttAuthRequest;
  readonly #maxRounds: number;
  #exchange: MqttAuthExchange | undefined;
  #rounds = 0;
  #awaitingClient = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Starts the clock; the method starts at the first step.
   *
   * @param start The method.
   * @param request What the method is told.
   * @param limits The bounds.
   * @param onTimeout Called once if the exchange is not over within the timeout.
   */
  constructor(
    start: MqttAuthMethod,
    request: MqttAuthRequest,
    limits: AuthLimits,
    onTimeout: () => void,
  ) {
    this.method = request.method;
    this.reauthentication = request.reauthentication;
    this.#start = start;
    this.#request = request;
    this.#maxRounds = limits.maxRounds;
    this.#timer = setTimeout(onTimeout, limits.timeout);
  }

  /** Whether the broker sent AUTH 0x18 and waits for the client's. */
  get awaitingClient(): boolean {
    return this.#awaitingClient;
  }

  /**
   * Runs the method on the client's data.
   *
   * @param data The client's Authentication Data (copied: the method may keep it).
   * @returns What to do; never rejects.
   */
  async step(data: Uint8Array | undefined): Promise<AuthOutcome> {
    this.#awaitingClient = false;
    let answer: unknown;
    try {
      this.#exchange ??= this.#start(this.#request);
      answer = await this.#exchange(data);
    } catch (error) {
      // A bug, not a refusal: said where the server's operator sees it.
      console.error(`speedo mqtt: the authentication method ${this.method} threw ${error}`);
      return refused(ReasonCode.notAuthorized, `the method ${this.method} threw ${error}`);
    }
    const outcome = checked(answer);
    if (outcome.kind === "continue") {
      if (++this.#rounds > this.#maxRounds) {
        return refused(ReasonCode.notAuthorized, `more than ${this.#maxRounds} rounds`);
      }
      this.#awaitingClient = true;
    }
    return outcome;
  }

  /** Stops the clock: the exchange is over (or its connection closed). */
  end(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

function refused(reasonCode: number, why: string): AuthOutcome {
  return { kind: "refused", reasonCode, why };
}

/** A method's answer as an outcome; anything but the three shapes refuses. */
function checked(answer: unknown): AuthOutcome {
  if (answer !== null && typeof answer === "object") {
    const a = answer as Record<string, unknown>;
    if (a.continue instanceof Uint8Array) return { kind: "continue", data: a.continue };
    const identity = a.success as Identity | undefined;
    if (identity !== null && typeof identity === "object" && typeof identity.name === "string") {
      if (a.data !== undefined && !(a.data instanceof Uint8Array)) {
        return refused(ReasonCode.notAuthorized, "success data is not a Uint8Array");
      }
      return a.data === undefined
        ? { kind: "success", identity }
        : { kind: "success", identity, data: a.data as Uint8Array };
    }
    if (typeof a.refused === "string") {
      const code = a.reasonCode ?? ReasonCode.notAuthorized;
      return refused(REFUSAL_CODES.has(code as number) ? code as number : 0x87, a.refused);
    }
  }
  return refused(
    ReasonCode.notAuthorized,
    "the method answered neither continue, success nor refused",
  );
}
