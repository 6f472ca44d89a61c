/**
 * The servers of `pubsub_load.ts`, each a child process on 127.0.0.1: Speedo pub/sub,
 * nats-server, and redis-server. Every child ends when this process ends, even when it is
 * killed: Speedo watches its stdin, and the others run under a `sh` that kills them once its
 * stdin (a pipe from this process) closes.
 *
 * @module
 */

import { delay } from "@std/async/delay";
import { childOf, freePort } from "./_bench_common.ts";

/** The servers the bench knows. */
export const SERVER_KINDS = ["speedo", "nats-server", "redis"] as const;
/** One of {@linkcode SERVER_KINDS}. */
export type ServerKind = typeof SERVER_KINDS[number];

/** A running server. */
export interface BenchServer {
  readonly kind: ServerKind;
  /** Its key in the results: the kind, with its loops when above 1. */
  readonly id: string;
  /** Its name and version, for the report. */
  readonly label: string;
  /** The wire protocol its clients speak. */
  readonly protocol: "nats" | "resp";
  readonly port: number;
  /** The server process itself (not a wrapper), to read its CPU time. */
  readonly pid: number | undefined;
  /** Its monitor's port on 127.0.0.1, when it runs one (Speedo with `monitor`). */
  readonly monitorPort?: number;
  /** Ends it; resolves once it exited. Safe to call twice. */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 15_000;
const decoder = new TextDecoder();
const root = new URL("../", import.meta.url);
const rootPath = decodeURIComponent(root.pathname);

/**
 * Where a program is, or `undefined` when it is not installed.
 *
 * @param name The program.
 * @returns Its path.
 */
export function findProgram(name: string): string | undefined {
  const dirs = [
    ...(Deno.env.get("PATH") ?? "").split(":"),
    "/usr/sbin",
    "/usr/bin",
    "/usr/local/bin",
  ];
  for (const dir of dirs) {
    if (dir === "") continue;
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
    } catch {
      // Not there.
    }
  }
  return undefined;
}

/**
 * Why a server cannot run here, or `undefined` when it can.
 *
 * @param kind The server.
 * @returns A note for the report.
 */
export function missing(kind: ServerKind): string | undefined {
  if (kind === "nats-server" && findProgram("nats-server") === undefined) {
    return "nats-server is not installed (apt-get install nats-server)";
  }
  if (kind === "redis" && findProgram("redis-server") === undefined) {
    return "redis-server is not installed (apt-get install redis-server)";
  }
  return undefined;
}

/**
 * The first line a program prints for `args` (its version), or `"?"`.
 *
 * @param program The program.
 * @param args Its arguments.
 * @returns The line.
 */
export async function versionOf(program: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await new Deno.Command(program, { args, stdout: "piped", stderr: "null" })
      .output();
    return decoder.decode(stdout).split("\n")[0].trim() || "?";
  } catch {
    return "?";
  }
}

/**
 * Starts a server and waits until it accepts connections.
 *
 * @param kind Which server.
 * @param loops Speedo's I/O loops.
 * @param backplane For Speedo: NATS servers to join (`pubsub.backplane`); it is started once
 *   joined.
 * @param monitored For Speedo: with a monitor in its process, on a free port.
 * @returns The running server.
 */
export async function startBenchServer(
  kind: ServerKind,
  loops = 1,
  backplane: string[] = [],
  monitored = false,
): Promise<BenchServer> {
  switch (kind) {
    case "speedo":
      return await startSpeedo(loops, backplane, monitored);
    case "nats-server": {
      const program = findProgram("nats-server")!;
      const port = freePort();
      const version = await versionOf(program, ["--version"]);
      return await startWatched(
        kind,
        `nats-server ${version.replace(/^nats-server: /, "")}`,
        "nats",
        port,
        program,
        [
          "-a",
          "127.0.0.1",
          "-p",
          String(port),
        ],
      );
    }
    case "redis": {
      const program = findProgram("redis-server")!;
      const port = freePort();
      const version = /v=(\S+)/.exec(await versionOf(program, ["--version"]))?.[1] ?? "?";
      return await startWatched(kind, `Redis ${version}`, "resp", port, program, [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
      ]);
    }
  }
}

async function startSpeedo(
  loops: number,
  backplane: string[],
  monitored: boolean,
): Promise<BenchServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      `${rootPath}deno.json`,
      `${rootPath}bench/_pubsub_speedo.ts`,
      "--loops",
      String(loops),
      ...backplane.flatMap((url) => ["--backplane", url]),
      ...(monitored ? ["--monitor"] : []),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stdin = child.stdin.getWriter();
  let running = true;
  const exited = child.status.then(() => void (running = false));
  const stop = once(async () => {
    stdin.close().catch(() => {});
    await endProcess(child, exited, () => running);
  });
  try {
    const reader = child.stdout.getReader();
    let text = "";
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!text.includes("\n")) {
      const next = await Promise.race([reader.read(), delay(Math.max(0, deadline - Date.now()))]);
      if (next === undefined) throw new Error("Speedo printed no port in time");
      if (next.done) throw new Error("Speedo exited before printing its port");
      text += decoder.decode(next.value);
    }
    reader.releaseLock();
    // Keep draining its stdout so that it never blocks on a full pipe.
    child.stdout.pipeTo(new WritableStream()).catch(() => {});
    // The port, and the monitor's after it when there is one.
    const [port, monitorPort] = text.trim().split("\n")[0].split(" ").map(Number);
    if (monitored && !(Number.isInteger(monitorPort) && monitorPort > 0)) {
      throw new Error(`Speedo printed no monitor port: "${text.trim()}"`);
    }
    await waitForAccept(port, () => running);
    const loopsText = loops > 1 ? `, ${loops} loops` : "";
    return {
      kind: "speedo",
      id: `${loops > 1 ? `speedo@${loops}` : "speedo"}${monitored ? "+monitor" : ""}`,
      label: `Speedo pub/sub${loopsText}${
        monitored ? ", monitored" : ""
      } (Deno ${Deno.version.deno})`,
      protocol: "nats",
      port,
      pid: child.pid,
      ...(monitored ? { monitorPort } : {}),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Runs `program` under `sh`, which kills it once its stdin closes. */
async function startWatched(
  kind: ServerKind,
  label: string,
  protocol: "nats" | "resp",
  port: number,
  program: string,
  args: string[],
): Promise<BenchServer> {
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      '"$@" >/dev/null 2>&1 & c=$!; cat >/dev/null; kill $c 2>/dev/null; wait $c',
      "sh",
      program,
      ...args,
    ],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stdin = child.stdin.getWriter();
  let running = true;
  const exited = child.status.then(() => void (running = false));
  let pid: number | undefined;
  const stop = once(async () => {
    stdin.close().catch(() => {});
    await endProcess(child, exited, () => running, pid);
  });
  try {
    await waitForAccept(port, () => running);
    pid = childOf(child.pid);
    return { kind, id: kind, label, protocol, port, pid, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Waits until something accepts connections on a port of 127.0.0.1.
 *
 * @param port The port.
 * @param running Whether the server's process still runs.
 * @throws {Error} When it exits first, or nothing accepts within the start timeout.
 */
export async function waitForAccept(port: number, running: () => boolean): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (true) {
    if (!running()) throw new Error(`The server for port ${port} exited at start`);
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`Nothing accepts on port ${port} in time`);
      await delay(20);
    }
  }
}

/** Waits for a child to exit; SIGTERM after 3 s, SIGKILL (it and `extra`) after 6 s. */
async function endProcess(
  child: Deno.ChildProcess,
  exited: Promise<void>,
  running: () => boolean,
  extra?: number,
): Promise<void> {
  const term = setTimeout(() => running() && kill(child.pid, "SIGTERM"), 3000);
  const hard = setTimeout(() => {
    if (running()) kill(child.pid, "SIGKILL");
    if (extra !== undefined) kill(extra, "SIGKILL");
  }, 6000);
  await exited;
  clearTimeout(term);
  clearTimeout(hard);
}

function kill(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // Exited already.
  }
}

function once(run: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => running ??= run();
}
