/**
 * What a monitor costs its server's process, in CPU time rather than throughput: the load
 * benches' `--monitor` rows compare two processes' rates, which on a shared machine move by
 * more than the 3% issue 20 asks about. This reads the server's own CPU time (`/proc`) instead.
 *
 * ```
 * deno run -A bench/monitor_scrape_cpu.ts [--seconds 5] [--idle-seconds 10] [--connections 200]
 * ```
 *
 * Two Speedo echo servers (inline), each its own process, one with a monitor
 * (`_speedo_echo.ts --monitor`), each holding `--connections` idle connections:
 *
 * 1. idle: both servers' CPU over `--idle-seconds` (long: `/proc` counts in 10 ms ticks): the
 *    difference is what the monitor costs when
 *    nobody asks (its one snapshot a second for the dashboard's history, its HTTP listener);
 * 2. scraped: `/metrics`, then `/varz`, then both, fetched back to back from this process for
 *    `--seconds` each; the monitored server's CPU over the phase, less its idle rate, divided by
 *    the requests, is the CPU of one request, all of it (HTTP, snapshot, text or JSON).
 *
 * One scrape of both paths a second then costs that many microseconds a second: the fraction
 * of a core printed last.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { runBench, running } from "./_bench_main.ts";
import { echoServerCommand, loadAverage, rootPath } from "./_echo_servers.ts";
import { processCpuSeconds } from "./_process_cpu.ts";
import { type ServerProcess, startServer } from "./_server_process.ts";

const args = parseArgs(Deno.args, { string: ["seconds", "idle-seconds", "connections"] });
const seconds = Number(args.seconds ?? 5);
const idleSeconds = Number(args["idle-seconds"] ?? 10);
const connectionCount = Number(args.connections ?? 200);

async function start(monitored: boolean): Promise<ServerProcess> {
  const spec = echoServerCommand("speedo-inline", 1, monitored ? ["--monitor"] : []);
  const server = await startServer(spec, { cwd: rootPath, timeoutMs: 15_000 });
  running.add(server);
  return server;
}

/** CPU seconds of `pid` used while `work` runs. */
async function cpuDuring(pid: number, work: () => Promise<void>): Promise<number> {
  const before = processCpuSeconds(pid) ?? NaN;
  await work();
  return (processCpuSeconds(pid) ?? NaN) - before;
}

/** Fetches `paths` one after the other, again and again, for `seconds`; returns the rounds. */
async function scrapeFor(port: number, paths: string[], seconds: number): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let rounds = 0;
  while (performance.now() < end) {
    for (const path of paths) {
      const response = await fetch(`http://127.0.0.1:${port}${path}`);
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`${path} answered ${response.status}`);
    }
    rounds++;
  }
  return rounds;
}

async function main(): Promise<number> {
  console.log("# What a monitor costs its server, in CPU time");
  console.log("");
  console.log(`- date: ${new Date().toISOString()}; deno ${Deno.version.deno}`);
  console.log(`- load average (1 min) before: ${loadAverage()}`);
  const plain = await start(false);
  const watched = await start(true);
  const sockets: Deno.Conn[] = [];
  for (const server of [plain, watched]) {
    for (let i = 0; i < connectionCount; i++) {
      sockets.push(await Deno.connect({ hostname: "127.0.0.1", port: server.port }));
    }
  }
  try {
    const sleep = () => new Promise<void>((resolve) => setTimeout(resolve, idleSeconds * 1000));
    // Both idle at once, so that whatever else the machine does falls on both alike.
    const plainBefore = processCpuSeconds(plain.pid) ?? NaN;
    const idle = await cpuDuring(watched.pid, sleep);
    const plainIdle = (processCpuSeconds(plain.pid) ?? NaN) - plainBefore;
    console.log(
      `- idle, ${connectionCount} connections open, ${idleSeconds} s: without a monitor ${
        (plainIdle / idleSeconds * 1e3).toFixed(2)
      } ms of CPU a second, with one ${(idle / idleSeconds * 1e3).toFixed(2)} ms`,
    );
    console.log("");
    console.log("| scraped | requests | server CPU (s) | CPU per request (us) |");
    console.log("| --- | ---: | ---: | ---: |");
    let both = NaN;
    for (const paths of [["/metrics"], ["/varz"], ["/metrics", "/varz"]]) {
      let rounds = 0;
      // Less what the process spends idle over as long (the phase lasts `seconds`).
      const cpu = await cpuDuring(watched.pid, async () => {
        rounds = await scrapeFor(watched.monitorPort!, paths, seconds);
      }) - idle / idleSeconds * seconds;
      const perRound = cpu / rounds * 1e6;
      if (paths.length === 2) both = perRound;
      console.log(
        `| ${paths.join(" + ")} | ${rounds * paths.length} | ${cpu.toFixed(2)} | ${
          (perRound / paths.length).toFixed(0)
        } |`,
      );
    }
    console.log("");
    console.log(
      `- one scrape of /metrics and /varz costs ${both.toFixed(0)} us of server CPU; once a ` +
        `second that is ${(both / 1e4).toFixed(3)}% of a core, plus the idle difference above`,
    );
    console.log(`- load average (1 min) after: ${loadAverage()}`);
  } finally {
    for (const socket of sockets) socket.close();
  }
  return 0;
}

await runBench("monitor_scrape_cpu", main);
