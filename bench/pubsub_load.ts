/**
 * Pub/sub under load: Speedo pub/sub against nats-server and Redis, in one run on one machine,
 * with the same load written here (`_pubsub_load_client.ts`): one publisher and N subscribers
 * on one subject, 100-byte payloads, over the NATS text protocol (Speedo, nats-server) or RESP
 * `PUBLISH`/`SUBSCRIBE` (Redis). It prints deliveries per second (a message reaching 10
 * subscribers is 10 deliveries) and Speedo's ratios to nats-server and Redis.
 *
 * ```
 * deno run -A bench/pubsub_load.ts [--seconds 3] [--warmup 1] [--rounds 3] [--quick]
 *   [--subscribers 1,10] [--servers speedo,nats-server,redis] [--slow-seconds 10] [--skip-slow]
 *   [--loops 1,2] [--monitor]
 * ```
 *
 * Each server is its own child process on 127.0.0.1 (a server missing here is skipped with a
 * note), and so is the load generator of each run, so that the server and the load each get a
 * core. Rounds are interleaved (every server at every load, then the next round) and the median
 * is reported. The CPU columns (in cores) tell which side was saturated. Every run must end
 * `complete`: each subscriber received exactly every message published. Every child is stopped
 * at the end, on error and on SIGINT/SIGTERM; they also end on their own when this process dies.
 * The exit code is 0 when every run produced a complete result.
 *
 * With `--monitor` (issue 20's check), each Speedo server runs twice: as it is, and as a twin
 * with a monitor in its process (`_pubsub_speedo.ts --monitor`) whose `/metrics` and `/varz`
 * this process scrapes once a second while each load runs (`_monitor_scrape.ts`). The twin
 * runs right after its server in every round, and a line per server gives the ratio of their
 * medians against the target (>= 0.97x). The twins have no slow-subscriber phase.
 *
 * Then, unless `--skip-slow`, a slow-subscriber phase for each server that speaks the NATS
 * protocol (Speedo, nats-server; `_pubsub_slow_client.ts`): one subscriber that sends `SUB` and
 * never reads again, one that reads everything, and a publisher of 16 KiB payloads for
 * `--slow-seconds`, with the server's RSS sampled every 100 ms. Before it, the same load
 * without the slow subscriber gives the fast subscriber's rate to compare with. A Markdown
 * table reports the RSS (at the start, the highest, when publishing stopped, once the phase's
 * connections closed), the bytes published, what the slow subscriber found in its socket when
 * read after the phase (how many messages, the server's last line, EOF) and when the server
 * closed it, and the fast subscriber's rate; then a one-line verdict. A server's RSS is bounded
 * when its highest sample stays within `RSS_BOUND` of its sample at the start: a few times the
 * 64 MiB that Speedo (`maxWriteBuffer`) and nats-server (`max_pending`) let one connection
 * hold, while gigabytes pass. An unbounded RSS, or a fast subscriber that did not get every
 * message, also makes the exit code 1.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import {
  count,
  median,
  numberFlag,
  readSettings,
  readText,
  runJsonChild,
  serversFlag,
  subscribersFlag,
} from "./_bench_common.ts";
import type { PubSubLoadResult } from "./_pubsub_load_client.ts";
import type { SlowSubscriberResult } from "./_pubsub_slow_client.ts";
import {
  type BenchServer,
  missing,
  SERVER_KINDS,
  type ServerKind,
  startBenchServer,
} from "./_pubsub_servers.ts";
import {
  monitorCostLine,
  scrapedWhile,
  type ScrapeTally,
  UNMONITORED_NOTE,
} from "./_monitor_scrape.ts";

const USAGE = `Usage: deno run -A bench/pubsub_load.ts [options]

  --seconds N        measured seconds per run (default 3; 1 with --quick)
  --warmup N         unmeasured seconds before each run's window (default 1; 0.5 with --quick)
  --rounds N         rounds, the median is reported (default 3; 1 with --quick)
  --quick            a smoke run: 1 s, 1 round
  --subscribers LIST comma-separated subscriber counts (default 1,10)
  --servers LIST     comma-separated: speedo,nats-server,redis (default: all)
  --slow-seconds N   seconds of the slow-subscriber phase (default 10; 3 with --quick)
  --skip-slow        no slow-subscriber phase
  --loops LIST       comma-separated I/O loop counts Speedo runs with (default 1); each is its
                     own server, and with more than one a line gives each count's ratio to the first
  --monitor          each Speedo server also runs with a monitor, scraped every 1 s (/metrics,
                     /varz) during its runs; a line per server gives monitored vs not`;

/** Time a run may take beyond its warm-up and window: start, drain, close. */
const RUN_SLACK_SECONDS = 25;
/** Payload of the slow-subscriber phase: large, so that gigabytes pass in seconds. */
const SLOW_PAYLOAD = 16 * 1024;
/** Seconds of the run without the slow subscriber, the fast subscriber's reference rate. */
const SLOW_BASELINE_SECONDS = 3;
/**
 * Time a slow-subscriber run may take beyond its phase: a publisher write the server holds
 * back, the fast subscriber's drain and the slow subscriber's read (up to 10 s each), close.
 */
const SLOW_SLACK_SECONDS = 45;
/** Growth of the server's RSS over the phase beyond which it is not called bounded. */
const RSS_BOUND = 256 * 2 ** 20;
const MiB = 2 ** 20;

const root = new URL("../", import.meta.url);
const rootPath = decodeURIComponent(root.pathname);

interface Settings {
  seconds: number;
  warmup: number;
  rounds: number;
  subscribers: number[];
  servers: ServerKind[];
  /** Seconds of the slow-subscriber phase; 0 skips it. */
  slowSeconds: number;
  /** Loop counts Speedo runs with. */
  loops: number[];
  /** Whether each Speedo server also runs with a monitor, scraped. */
  monitor: boolean;
}

function parseSettings(argv: string[]): Settings | undefined {
  const args = parseArgs(argv, {
    string: ["seconds", "warmup", "rounds", "subscribers", "servers", "slow-seconds", "loops"],
    boolean: ["quick", "help", "skip-slow", "monitor"],
  });
  if (args.help) return undefined;
  const servers = serversFlag(args.servers, SERVER_KINDS);
  const subscribers = subscribersFlag(args.subscribers);
  const loops = (args.loops ?? "1").split(",").map((text: string) => {
    const count = Number(text);
    if (!Number.isInteger(count) || count < 1 || count > 64) {
      throw new RangeError(`--loops: "${text}" is not a loop count from 1 to 64`);
    }
    return count;
  });
  return {
    loops,
    monitor: args.monitor,
    seconds: numberFlag(args, "seconds", args.quick ? 1 : 3, 0.1),
    warmup: numberFlag(args, "warmup", args.quick ? 0.5 : 1, 0),
    rounds: Math.floor(numberFlag(args, "rounds", args.quick ? 1 : 3, 1)),
    subscribers,
    servers,
    slowSeconds: args["skip-slow"] ? 0 : numberFlag(args, "slow-seconds", args.quick ? 3 : 10, 1),
  };
}

/** Runs one load in a child process, bounded in time. */
function runLoad(
  server: BenchServer,
  subscribers: number,
  settings: Settings,
): Promise<PubSubLoadResult> {
  return runJsonChild<PubSubLoadResult>(
    [
      `${rootPath}bench/_pubsub_load_client.ts`,
      "--protocol",
      server.protocol,
      "--port",
      String(server.port),
      "--subscribers",
      String(subscribers),
      "--seconds",
      String(settings.seconds),
      "--warmup",
      String(settings.warmup),
      ...(server.pid === undefined ? [] : ["--server-pid", String(server.pid)]),
    ],
    (settings.warmup + settings.seconds + RUN_SLACK_SECONDS) * 1000,
    `The load against ${server.label}`,
  );
}

/** Runs one slow-subscriber phase (or its reference, without the slow one) in a child process. */
function runSlowPhase(
  server: BenchServer,
  seconds: number,
  withSlow: boolean,
): Promise<SlowSubscriberResult> {
  return runJsonChild<SlowSubscriberResult>(
    [
      `${rootPath}bench/_pubsub_slow_client.ts`,
      "--port",
      String(server.port),
      "--server-pid",
      String(server.pid),
      "--seconds",
      String(seconds),
      "--payload",
      String(SLOW_PAYLOAD),
      ...(withSlow ? [] : ["--without-slow"]),
    ],
    (seconds + SLOW_SLACK_SECONDS) * 1000,
    `The slow-subscriber phase against ${server.label}`,
  );
}

/** The slow and the reference runs of one server. */
interface SlowPhase {
  server: BenchServer;
  slow: SlowSubscriberResult;
  reference: SlowSubscriberResult;
}

function mib(bytes: number | undefined): string {
  return bytes === undefined ? "?" : (bytes / MiB).toFixed(0);
}

function gb(bytes: number): string {
  return (bytes / 1e9).toFixed(bytes < 1e8 ? 3 : 1);
}

/** A ratio with two decimals, or one significant digit when below 0.1 (so never `0.00x`). */
function ratio(value: number): string {
  return `${value >= 0.1 ? value.toFixed(2) : value.toPrecision(1)}x`;
}

/** Whether the server's RSS stayed within `RSS_BOUND` of where it started. */
function bounded(result: SlowSubscriberResult): boolean | undefined {
  if (result.rssStart === undefined || result.rssMax === undefined) return undefined;
  return result.rssMax - result.rssStart <= RSS_BOUND;
}

/** What the slow subscriber found in its socket, and when the server closed it. */
function describeSlow(result: SlowSubscriberResult): { got: string; end: string; closed: string } {
  const slow = result.slow;
  if (slow === undefined) return { got: "-", end: "-", closed: "-" };
  const cut = slow.received < result.published;
  const got = `${count(slow.received)} of ${count(result.published)}` +
    (slow.lastPublishedAt === undefined
      ? ""
      : `, the last published at ${slow.lastPublishedAt.toFixed(2)} s`);
  const words = slow.lines.filter((line) => line.startsWith("-ERR"));
  const end = [
    words.length === 0 ? "no -ERR" : words.map((line) => `\`${line}\``).join(", "),
    slow.truncated ? "a message cut short" : undefined,
    slow.ending === "eof" ? "EOF" : slow.ending === "reset" ? "reset" : "still open",
    cut ? undefined : "(not cut off)",
  ].filter((part) => part !== undefined).join(", ");
  const closed = slow.closedAt === undefined
    ? `after it was read (${slow.stateAtEnd} until then)`
    : slow.closedAt <= result.seconds
    ? `at ${slow.closedAt.toFixed(2)} s`
    : `at ${slow.closedAt.toFixed(2)} s, after the phase`;
  return { got, end, closed };
}

function printSlowPhases(phases: SlowPhase[], seconds: number): string[] {
  const notes: string[] = [];
  console.log("");
  console.log(
    `## Slow subscriber: 1 that never reads, 1 that reads everything, ${
      SLOW_PAYLOAD / 1024
    } KiB payloads, ${seconds} s`,
  );
  console.log("");
  console.log(
    "| server | published | RSS start / max / end / closed (MiB) | slow subscriber got | then " +
      "| server closed it | fast deliveries/s | lowest 1 s | without slow |",
  );
  console.log("| --- | ---: | ---: | --- | --- | --- | ---: | ---: | ---: |");
  for (const { server, slow, reference } of phases) {
    const { got, end, closed } = describeSlow(slow);
    const vs = `${count(reference.fastRate)} (${ratio(slow.fastRate / reference.fastRate)})`;
    console.log(
      `| ${server.label} | ${gb(slow.publishedBytes)} GB | ${mib(slow.rssStart)} / ${
        mib(slow.rssMax)
      } / ${mib(slow.rssEnd)} / ${mib(slow.rssAfter)} | ${got} | ${end} | ${closed} | ${
        count(slow.fastRate)
      } | ${slow.fastMinRate === undefined ? "-" : count(slow.fastMinRate)} | ${vs} |`,
    );
    if (!slow.fastComplete) {
      notes.push(`${server.kind} slow phase: the fast subscriber missed messages`);
    }
  }
  console.log("");
  console.log(
    "(GB = 10^9 payload bytes published; RSS = VmRSS every 100 ms: max from the start until " +
      "the slow subscriber was read, end when publishing stopped, closed 0.5 s after every " +
      'connection closed; "without slow": the same load without the slow subscriber, ' +
      `${phases[0].reference.seconds.toFixed(0)} s, and the ratio to it)`,
  );
  const parts = phases.map(({ server, slow }) => {
    const name = server.kind === "speedo" ? "Speedo" : server.kind;
    return `${name} max ${mib(slow.rssMax)} MiB (from ${mib(slow.rssStart)}) while ${
      gb(slow.publishedBytes)
    } GB passed`;
  });
  const unbounded = phases.filter(({ slow }) => bounded(slow) === false);
  const unknown = phases.some(({ slow }) => bounded(slow) === undefined);
  const verdict = unbounded.length > 0
    ? `RSS NOT bounded (grew more than ${RSS_BOUND / MiB} MiB): ${parts.join("; ")}`
    : unknown
    ? `RSS unknown (no /proc here): ${parts.join("; ")}`
    : `RSS bounded: ${parts.join("; ")}`;
  console.log(`verdict: ${verdict}`);
  for (const { server } of unbounded) notes.push(`${server.kind} slow phase: RSS not bounded`);
  return notes;
}

function machineInfo(): string[] {
  const cpu = /model name\s*:\s*(.*)/.exec(readText("/proc/cpuinfo"))?.[1] ?? "?";
  const memory = Deno.systemMemoryInfo();
  return [
    `machine: ${cpu}, ${navigator.hardwareConcurrency} cores, ${
      (memory.total / 2 ** 30).toFixed(1)
    } GiB RAM, Linux ${Deno.osRelease()}`,
    `deno: ${Deno.version.deno} (V8 ${Deno.version.v8})`,
  ];
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

async function main(): Promise<number> {
  const settings = readSettings(parseSettings, USAGE);
  if (typeof settings === "number") return settings;

  console.log("# Speedo pub/sub load: 1 publisher, N subscribers, 100-byte payloads, one subject");
  for (const line of machineInfo()) console.log(line);
  console.log(`loadavg before: ${readText("/proc/loadavg")}`);

  const servers: BenchServer[] = [];
  const notes: string[] = [];
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    console.error("Interrupted: stopping the servers");
    Promise.all(servers.map((server) => server.stop())).finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let failures = 0;
  try {
    for (const kind of settings.servers) {
      const why = missing(kind);
      if (why !== undefined) {
        notes.push(`${kind} skipped: ${why}`);
        continue;
      }
      try {
        for (const loops of kind === "speedo" ? settings.loops : [1]) {
          servers.push(await startBenchServer(kind, loops));
          // Right after its server, so that in each round it runs right after it.
          if (kind === "speedo" && settings.monitor) {
            servers.push(await startBenchServer(kind, loops, [], true));
          }
        }
      } catch (error) {
        failures++;
        notes.push(`${kind} skipped: it did not start: ${(error as Error).message}`);
      }
    }
    for (const server of servers) {
      console.log(`server: ${server.label} on 127.0.0.1:${server.port}`);
    }
    const runs = settings.rounds * settings.subscribers.length * servers.length;
    const slowServers = settings.slowSeconds > 0
      ? servers.filter((server) => server.protocol === "nats" && server.monitorPort === undefined)
      : [];
    for (const server of slowServers.filter((server) => server.pid === undefined)) {
      notes.push(`${server.kind} slow phase skipped: its process id (for its RSS) is unknown`);
      slowServers.splice(slowServers.indexOf(server), 1);
    }
    const slowEstimate = slowServers.length *
      (settings.slowSeconds + Math.min(SLOW_BASELINE_SECONDS, settings.slowSeconds) + 4);
    console.log(
      `runs: ${runs} (${settings.rounds} rounds x ${settings.subscribers.length} loads x ${servers.length} servers), ${settings.warmup} s warm-up + ${settings.seconds} s each${
        slowServers.length === 0
          ? ""
          : `, then a ${settings.slowSeconds} s slow-subscriber phase x ${slowServers.length}`
      }; about ${Math.ceil(runs * (settings.warmup + settings.seconds + 1.5) + slowEstimate)} s`,
    );

    const results = new Map<string, PubSubLoadResult[]>();
    const scrapes = new Map<string, ScrapeTally>();
    for (let round = 0; round < settings.rounds && !interrupted; round++) {
      for (const subscribers of settings.subscribers) {
        for (const server of servers) {
          if (interrupted) break;
          const key = `${server.id}/${subscribers}`;
          try {
            const result = await scrapedWhile(
              server.monitorPort,
              scrapes,
              server.id,
              () => runLoad(server, subscribers, settings),
            );
            if (!result.complete) {
              failures++;
              notes.push(`${key} round ${round + 1}: not every message reached every subscriber`);
            }
            results.set(key, [...(results.get(key) ?? []), result]);
            console.error(
              `  round ${round + 1}: ${server.kind} x${subscribers}: ${
                Math.round(result.rate)
              } deliveries/s`,
            );
          } catch (error) {
            failures++;
            notes.push(`${key} round ${round + 1}: ${(error as Error).message}`);
          }
        }
      }
    }

    console.log("");
    const header = [
      pad("subscribers", 11),
      pad("server", 44),
      pad("deliveries/s", 13, true),
      pad("vs nats-server", 15, true),
      pad("vs Redis", 9, true),
      pad("server CPU", 11, true),
      pad("load CPU", 9, true),
    ].join("  ");
    console.log(header);
    console.log("-".repeat(header.length));
    for (const subscribers of settings.subscribers) {
      const rate = (id: string) => {
        const list = results.get(`${id}/${subscribers}`);
        return list === undefined ? undefined : median(list.map((result) => result.rate));
      };
      for (const server of servers) {
        const list = results.get(`${server.id}/${subscribers}`) ?? [];
        const own = rate(server.id);
        const ratio = (other: ServerKind) => {
          const base = rate(other);
          return own === undefined || base === undefined ? "-" : `${(own / base).toFixed(2)}x`;
        };
        const cpu = (pick: (result: PubSubLoadResult) => number | undefined) => {
          const values = list.map(pick).filter((value): value is number => value !== undefined);
          return values.length === 0 ? "-" : median(values).toFixed(2);
        };
        console.log([
          pad(String(subscribers), 11),
          pad(server.label, 44),
          pad(own === undefined ? "-" : Math.round(own).toLocaleString("en-US"), 13, true),
          pad(ratio("nats-server"), 15, true),
          pad(ratio("redis"), 9, true),
          pad(cpu((result) => result.serverCpu), 11, true),
          pad(cpu((result) => result.clientCpu), 9, true),
        ].join("  "));
      }
    }
    console.log("");
    console.log(
      `(median of ${settings.rounds} rounds of ${settings.seconds} s; CPU in cores over the window)`,
    );
    if (settings.loops.length > 1) {
      const [first, ...more] = settings.loops;
      const idOf = (loops: number) => loops > 1 ? `speedo@${loops}` : "speedo";
      for (const loops of more) {
        const ratios = settings.subscribers.map((subscribers) => {
          const of = (id: string) =>
            median((results.get(`${id}/${subscribers}`) ?? []).map((r) => r.rate));
          return `${subscribers} subscribers ${(of(idOf(loops)) / of(idOf(first))).toFixed(2)}x`;
        });
        console.log(`Speedo ${loops} loops vs ${first}: ${ratios.join(", ")}`);
      }
    }
    for (const twin of servers.filter((server) => server.monitorPort !== undefined)) {
      const plainId = twin.id.slice(0, -"+monitor".length);
      const plain = servers.find((server) => server.id === plainId);
      if (plain === undefined) continue;
      const rates = (id: string, subscribers: number) =>
        (results.get(`${id}/${subscribers}`) ?? []).map((result) => result.rate);
      const loads = settings.subscribers.map((subscribers) => ({
        load: `${subscribers} subscriber${subscribers === 1 ? "" : "s"}`,
        without: rates(plain.id, subscribers),
        with: rates(twin.id, subscribers),
      }));
      console.log(monitorCostLine(plain.label, loads, scrapes.get(twin.id)));
      const failed = scrapes.get(twin.id)?.failures.length ?? 0;
      if (failed > 0) {
        failures++;
        notes.push(`${twin.label}: ${failed} scrape requests failed`);
      }
    }
    if (settings.monitor) console.log(UNMONITORED_NOTE);

    const phases: SlowPhase[] = [];
    for (const server of slowServers) {
      if (interrupted) break;
      try {
        // The reference first, so that the slow run starts from the RSS of a server that saw
        // only well-behaved clients.
        const reference = await runSlowPhase(
          server,
          Math.min(SLOW_BASELINE_SECONDS, settings.slowSeconds),
          false,
        );
        const slow = await runSlowPhase(server, settings.slowSeconds, true);
        phases.push({ server, slow, reference });
        console.error(
          `  slow subscriber: ${server.kind}: max RSS ${mib(slow.rssMax)} MiB, ${
            gb(slow.publishedBytes)
          } GB, fast ${count(slow.fastRate)} deliveries/s (${
            count(reference.fastRate)
          } without the slow one)`,
        );
      } catch (error) {
        failures++;
        notes.push(`${server.kind} slow phase: ${(error as Error).message}`);
      }
    }
    if (phases.length > 0) {
      const slowNotes = printSlowPhases(phases, settings.slowSeconds);
      failures += slowNotes.length;
      notes.push(...slowNotes);
    }
    for (const note of notes) console.log(`note: ${note}`);
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    console.log(`loadavg after: ${readText("/proc/loadavg")}`);
  }
  return failures === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
