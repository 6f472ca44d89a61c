/**
 * `speedo serve PROTOCOL [FLAGS]`: the flags every protocol shares, and the run of a server
 * from its start line to its graceful close on SIGINT or SIGTERM, with its stats as it runs (a
 * status line on a terminal, a log line per interval elsewhere).
 *
 * @module
 */

import type { TlsOptions } from "../core/server.ts";
import { describeError } from "../core/_printable.ts";
import { hostPort, threadCount } from "./_address.ts";
import {
  FlagError,
  type FlagValues,
  hostnameFlag,
  integerFlag,
  loopsFlag,
  parsedFlag,
  portFlag,
  refusedOptions,
  switchFlag,
  textFlag,
  workersFlag,
} from "./_flags.ts";
import { type Log, LOG_LEVELS, type LogLevel } from "./_log.ts";
import { type MonitorHandle, startMonitor } from "./_monitor_flag.ts";
import type { AnyServeProtocol, ServeBase } from "./_serve_protocols.ts";
import { type ServeSample, ServeStats, statsFields, statsText } from "./_serve_stats.ts";
import { onShutdownSignal } from "./_signals.ts";

/** The longest `--stats-interval`: a day. */
const MAX_STATS_INTERVAL = 86_400;

/** The flags a protocol's are put between: those before them in `--help`. */
function leadingFlags(protocol: AnyServeProtocol) {
  const workers = protocol.workers;
  return {
    port: portFlag({ default: protocol.port, help: "port to listen on; 0 picks a free one" }),
    hostname: hostnameFlag(),
    "tls-cert": textFlag({
      placeholder: "FILE",
      help: "PEM certificate chain: serve over TLS (with --tls-key)",
    }),
    "tls-key": textFlag({ placeholder: "FILE", help: "PEM private key of --tls-cert" }),
    // A protocol that takes no workers says why in its help, rather than "0 to 0".
    workers: workers.max === 0
      ? {
        ...integerFlag({ default: 0, max: 0, help: "", maxReason: workers.maxReason }),
        help: workers.help,
      }
      : workersFlag(workers.default, workers.help),
    loops: loopsFlag(),
  };
}

/** The flags after a protocol's in `--help`: what the command itself does. */
function trailingFlags() {
  return {
    "stats-interval": integerFlag({
      default: 10,
      max: MAX_STATS_INTERVAL,
      placeholder: "SECONDS",
      help:
        "seconds between stats log lines when stdout is not a terminal (a terminal gets a status line, every second); 0: none",
    }),
    log: parsedFlag<"text" | "json">({
      default: "text",
      placeholder: "FORMAT",
      help: "text: lines for people; json: a JSON object a line, for machines",
      parse: (text) => text === "text" || text === "json" ? text : undefined,
      requirement: "be text or json",
    }),
    "log-level": parsedFlag<LogLevel>({
      default: "info",
      placeholder: "LEVEL",
      help: `the least severe lines logged: ${
        LOG_LEVELS.join(", ")
      } (debug adds a line per connection)`,
      parse: (text) => LOG_LEVELS.find((level) => level === text),
      requirement: `be one of ${LOG_LEVELS.join(", ")}`,
    }),
    monitor: portFlag({ help: "serve the monitor on this port; 0 picks a free one" }),
    "monitor-hostname": textFlag({
      placeholder: "HOST",
      help: "address the monitor listens on (with --monitor; default 127.0.0.1)",
    }),
    "monitor-token": textFlag({
      placeholder: "TOKEN",
      help: "the token monitor clients must present (with --monitor)",
    }),
    "monitor-handler-time": switchFlag(
      "time every inline handler call into /metrics' histogram (with --monitor; about 0.2 µs a call)",
    ),
  };
}

type Leading = ReturnType<typeof leadingFlags>;
type Trailing = ReturnType<typeof trailingFlags>;

/** The values of the flags every protocol shares. */
export type SharedValues = FlagValues<Leading> & FlagValues<Trailing>;

/**
 * The flags of `speedo serve PROTOCOL`: the shared ones, with the protocol's own between the
 * server's and the command's.
 *
 * @param protocol The protocol.
 * @returns The flags, in `--help`'s order.
 */
export function serveFlags(protocol: AnyServeProtocol): Leading & Trailing {
  return { ...leadingFlags(protocol), ...protocol.flags, ...trailingFlags() };
}

/** Where a run of {@linkcode serve} writes. */
export interface ServeOutput {
  /** The log. */
  log: Log;
  /** Whether stdout is a terminal: a status line then, rather than stats log lines. */
  terminal: boolean;
  /** The terminal's width, in columns. */
  columns(): number;
}

/** `--tls-cert` and `--tls-key`, read. */
function tlsOptions(cert: string | undefined, key: string | undefined): TlsOptions | undefined {
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    throw new FlagError("--tls-cert and --tls-key go together");
  }
  const read = (flag: string, path: string) => {
    try {
      return Deno.readTextFileSync(path);
    } catch (error) {
      throw new FlagError(`--${flag} ${path}: ${error instanceof Error ? error.message : error}`);
    }
  };
  return { cert: read("tls-cert", cert), key: read("tls-key", key) };
}

/**
 * Runs a protocol's server until SIGINT or SIGTERM, then closes it gracefully.
 *
 * @param protocol The protocol.
 * @param values The values of {@linkcode serveFlags}.
 * @param output The log and the terminal.
 * @returns The exit code: 0 after a graceful close, 1 when the server could not listen.
 * @throws {FlagError} When the flags disagree, a file cannot be read, the server refuses its
 *   options, or `--monitor` cannot start: the command's one line, exit code 2.
 */
export async function serve(
  protocol: AnyServeProtocol,
  values: SharedValues & Record<string, unknown>,
  output: ServeOutput,
): Promise<number> {
  const { log } = output;
  const tls = tlsOptions(values["tls-cert"], values["tls-key"]);
  if (values.monitor === undefined) {
    for (const flag of ["monitor-hostname", "monitor-token", "monitor-handler-time"] as const) {
      const value = values[flag];
      if (value !== undefined && value !== false) {
        throw new FlagError(`--${flag} needs --monitor PORT`);
      }
    }
  }
  let errors = 0;
  let slowConsumers = 0;
  const base: ServeBase = {
    hostname: values.hostname,
    port: values.port,
    workers: values.workers,
    loops: values.loops,
    ...(tls === undefined ? {} : { tls }),
    onConnect(connection, loop) {
      log.debug("connected", `connection ${connection.id} opened on loop ${loop}`, {
        connection: connection.id,
        loop,
      });
    },
    onClose(connection, reason, loop) {
      // By name: a loop's reasons cross threads as plain errors.
      if (reason?.name === "SlowConsumerError") slowConsumers++;
      if (!log.logs("debug")) return;
      log.debug(
        "disconnected",
        `connection ${connection.id} closed${reason === undefined ? "" : `: ${reason.message}`}`,
        { connection: connection.id, loop, reason: reason?.name },
      );
    },
    onError(error, connection) {
      errors++;
      log.error("error", describeError(error), { connection: connection?.id });
    },
  };
  const own: Record<string, unknown> = {};
  for (const name of Object.keys(protocol.flags)) own[name] = values[name];
  const { server, routed, hint } = refusedOptions(() => protocol.make(own, base));

  let monitor: MonitorHandle | undefined;
  if (values.monitor !== undefined) {
    try {
      monitor = await startMonitor(
        server,
        {
          port: values.monitor,
          hostname: values["monitor-hostname"] ?? "127.0.0.1",
          ...(values["monitor-token"] === undefined ? {} : { token: values["monitor-token"] }),
        },
        protocol.name,
        routed?.() as Parameters<typeof startMonitor>[3],
      );
    } catch (error) {
      await server.close();
      throw new FlagError(error instanceof Error ? error.message : String(error));
    }
  }

  const started = performance.now();
  let address;
  try {
    address = await server.listen();
  } catch (error) {
    await monitor?.close();
    await server.close();
    console.error(
      `speedo serve ${protocol.name}: cannot listen on ${
        hostPort({ hostname: values.hostname, port: values.port })
      }: ${error instanceof Error ? error.message : error}`,
    );
    return 1;
  }
  const running = server.stats();
  const where = hostPort(address);
  log.info(
    "listening",
    `speedo ${protocol.name} listening on ${where}${tls === undefined ? "" : " (TLS)"} (${
      threadCount(running)
    })${hint === undefined ? "" : `; try: ${hint.replace("PORT", String(address.port))}`}`,
    {
      protocol: protocol.name,
      address: where,
      hostname: address.hostname,
      port: address.port,
      tls: tls !== undefined,
      loops: running.loops.length,
      workers: running.workers,
    },
  );

  if (monitor !== undefined) {
    log.info(
      "monitor",
      `monitor on ${monitor.url} (/metrics, /varz, /connz, /subsz, /healthz)`,
      { url: monitor.url },
    );
  }

  const sample = (): ServeSample => {
    const now = server.stats();
    const counts = routed?.();
    return {
      connections: now.connections,
      queueDepth: now.queueDepth,
      slowConsumers,
      errors,
      rss: Deno.memoryUsage().rss,
      routes: counts !== undefined,
      messagesIn: now.messagesIn,
      messagesOut: now.messagesOut,
      bytesIn: now.bytesIn,
      bytesOut: now.bytesOut,
      published: counts?.published ?? 0,
      delivered: counts?.delivered ?? 0,
    };
  };
  const stats = new ServeStats(sample);
  stats.read(performance.now());
  const interval = values["stats-interval"];
  let timer: ReturnType<typeof setInterval> | undefined;
  if (interval > 0 && output.terminal && values.log === "text") {
    timer = setInterval(() => {
      const line = statsText(stats.read(performance.now()));
      // Narrower than the terminal, or a wrapped line would not be redrawn in place; a
      // terminal that tells no width (0) gets it whole.
      const columns = output.columns();
      log.status(columns > 1 ? line.slice(0, columns - 1) : line);
    }, 1000);
  } else if (interval > 0) {
    timer = setInterval(() => {
      const reading = stats.read(performance.now());
      log.info("stats", `stats: ${statsText(reading)}`, statsFields(reading));
    }, interval * 1000);
  }

  const signal = await new Promise<Deno.Signal>((resolve) => onShutdownSignal(resolve));
  clearInterval(timer);
  log.status("");
  await monitor?.close();
  await server.close();
  const last = sample();
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  log.info(
    "closed",
    `speedo ${protocol.name} closed on ${signal} after ${seconds} s: ${server.stats().accepted} connections, ${last.messagesIn} messages in, ${last.messagesOut} out, ${last.bytesIn} bytes in, ${last.bytesOut} out${
      last.routes ? `, ${last.published} published, ${last.delivered} delivered` : ""
    }, ${slowConsumers} slow consumers cut, ${errors} errors`,
    {
      signal,
      seconds: Number(seconds),
      accepted: server.stats().accepted,
      messagesIn: last.messagesIn,
      messagesOut: last.messagesOut,
      bytesIn: last.bytesIn,
      bytesOut: last.bytesOut,
      slowConsumers,
      errors,
    },
  );
  return 0;
}
