/**
 * Checks of the transport options, shared by the server and the client: a `"unix"` socket
 * needs a `path` and takes no `hostname`, `port` or `tls`; TCP takes no `path`. A mix is a
 * `TypeError` at construction.
 *
 * @module
 */

/** The transport options as given, before their types narrow them. */
export interface TransportFields {
  transport?: unknown;
  path?: unknown;
  hostname?: unknown;
  port?: unknown;
  tls?: unknown;
}

/**
 * Throws a `TypeError` when the transport options contradict each other.
 *
 * @param who What is configured, for the message (`"Server"`, `"connect"`).
 * @param options The options.
 * @returns Whether the transport is `"unix"`.
 */
export function checkTransport(who: string, options: TransportFields): boolean {
  const { transport } = options;
  if (transport !== undefined && transport !== "tcp" && transport !== "unix") {
    throw new TypeError(`${who} transport must be "tcp" or "unix", got ${quote(transport)}`);
  }
  if (transport !== "unix") {
    if (options.path !== undefined) {
      throw new TypeError(`${who} path needs transport "unix", got transport ${quote(transport)}`);
    }
    return false;
  }
  if (typeof options.path !== "string" || options.path === "") {
    throw new TypeError(
      `${who} transport "unix" needs a path (the socket file), got ${quote(options.path)}`,
    );
  }
  for (const name of ["hostname", "port", "tls"] as const) {
    if (options[name] !== undefined) {
      throw new TypeError(
        `${who} ${name} does not apply to transport "unix" (path ${quote(options.path)})`,
      );
    }
  }
  return true;
}

function quote(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/**
 * The port a preset listens on: `options.port`, else its own default over TCP; none over a
 * Unix socket.
 *
 * @param options The preset's options.
 * @param port The preset's default port.
 * @returns The port, typed as the transport's.
 */
export function defaultPort<P>(options: { transport?: unknown; port?: P }, port: number): P {
  return (options.transport === "unix" ? options.port : options.port ?? port) as P;
}
