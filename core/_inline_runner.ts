/**
 * The message handler on the I/O thread (a pool of 0 workers): loaded once, from a module
 * (its default export) or a handler object, and given its startup data before any message.
 *
 * @module
 */

import type { ConnectionHandle } from "./connection_handle.ts";
import { MessageFailedError, WorkerStartError } from "./errors.ts";
import type { Message } from "./message.ts";
import type { MessageHandler, MessageHandlerContext } from "./message_handler.ts";

/** What a message's connection is to the runner: its handle, and where failures go. */
export interface InlineSource {
  readonly id: number;
  readonly handle: ConnectionHandle;
  messageFailed(error: MessageFailedError): void;
}

/** Runs a {@linkcode MessageHandler} inline. */
export class InlineRunner {
  readonly #spec: string | URL | MessageHandler;
  readonly #data: unknown;
  readonly #context: MessageHandlerContext;
  #handler: MessageHandler | undefined;
  #loading: Promise<void> | undefined;
  #keepsPayload = true;
  /** Gets each message's handling time in seconds, when set (`Server.observeHandlerTime`). */
  observer: ((seconds: number) => void) | undefined = undefined;

  /**
   * @param spec The handler object, or the URL of a module whose default export is one.
   * @param data Its startup data (structured-clonable), cloned for it as for a worker.
   * @param handle Handles of connections by id, for the handler's context.
   */
  constructor(
    spec: string | URL | MessageHandler,
    data: unknown,
    handle: (id: number) => ConnectionHandle,
  ) {
    this.#spec = spec;
    this.#data = data;
    this.#context = { workerIndex: -1, handle };
  }

  /** Whether the handler is loaded and initialised. */
  get ready(): boolean {
    return this.#handler !== undefined;
  }

  /** Whether the handler may read a payload after `onMessage` returns. */
  get keepsPayload(): boolean {
    return this.#keepsPayload;
  }

  /**
   * Loads the handler and runs its `init` with the startup data; once (later calls wait for
   * the first).
   *
   * @throws {WorkerStartError} When the module cannot load, or `init` fails.
   */
  load(): Promise<void> {
    this.#loading ??= this.#load().catch((error) => {
      this.#loading = undefined; // a later resize may try again
      throw error;
    });
    return this.#loading;
  }

  /**
   * Runs the handler on a message. A throw fails the message (told to `source`).
   *
   * @returns The handler's promise if it returned one (the message is done when it settles;
   *   a rejection is the caller's to tell), else `undefined`: the message is done.
   */
  run(message: Message, source: InlineSource): Promise<void> | undefined {
    if (this.observer !== undefined) return this.#timed(message, source, this.observer);
    try {
      const result = this.#handler!.onMessage(message, source.handle, this.#context);
      return result instanceof Promise ? result : undefined;
    } catch (error) {
      source.messageFailed(inlineFailure(source.id, error));
      return undefined;
    }
  }

  /** `run`, timed for the observer; apart so that the untimed path stays as it was. */
  #timed(
    message: Message,
    source: InlineSource,
    observer: (seconds: number) => void,
  ): Promise<void> | undefined {
    const start = performance.now();
    let result: Promise<void> | undefined;
    try {
      const returned = this.#handler!.onMessage(message, source.handle, this.#context);
      result = returned instanceof Promise ? returned : undefined;
    } catch (error) {
      source.messageFailed(inlineFailure(source.id, error));
    }
    if (result === undefined) {
      observer((performance.now() - start) / 1000);
      return undefined;
    }
    const settled = () => observer((performance.now() - start) / 1000);
    // The caller handles the rejection on its own branch of the promise.
    result.then(settled, settled);
    return result;
  }

  async #load(): Promise<void> {
    const spec = this.#spec;
    let handler: MessageHandler;
    if (isHandlerObject(spec)) handler = spec;
    else {
      let module;
      try {
        module = await import(String(spec));
      } catch (error) {
        throw new WorkerStartError(`Cannot load handler module ${spec}: ${errorText(error)}`, {
          cause: error,
        });
      }
      if (typeof module.default?.onMessage !== "function") {
        throw new WorkerStartError(`Module ${spec} has no default export with onMessage`);
      }
      handler = module.default;
    }
    if (handler.init !== undefined) {
      try {
        await handler.init(structuredClone(this.#data), this.#context);
      } catch (error) {
        throw new WorkerStartError(`The message handler's init failed: ${errorText(error)}`, {
          cause: error,
        });
      }
    }
    this.#keepsPayload = handler.keepsPayload !== false;
    this.#handler = handler;
  }
}

/** Whether `handler` is a handler object (which cannot cross to workers) rather than a URL. */
export function isHandlerObject(
  handler: string | URL | MessageHandler,
): handler is MessageHandler {
  return typeof handler === "object" && !(handler instanceof URL);
}

/** The failure of a message whose inline handler threw or rejected. */
export function inlineFailure(id: number, error: unknown): MessageFailedError {
  return new MessageFailedError(id, `Message handler failed: ${errorText(error)}`, {
    cause: error,
  });
}

/** An error's message, or the thrown value as text. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
