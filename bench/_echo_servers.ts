/**
 * The echo servers the benches compare, as child-process commands: raw `Deno.listen`, Node
 * `net`, Speedo inline and Speedo with workers. Each prints its port as its first line and
 * exits when its stdin closes.
 *
 * @module
 */

import type { ServerCommand } from "./_server_process.ts";

const root = new URL("../", import.meta.url);
export const rootPath = decodeURIComponent(root.pathname);
export const benchPath = (file: string): string => `${rootPath}bench/${file}`;

/** Ids of the echo servers, as `--servers` takes them. */
export const SERVER_IDS = [
  "raw-deno",
  "node",
  "speedo-inline",
  "speedo-workers",
  "speedo-ring",
] as const;
export type ServerId = typeof SERVER_IDS[number];

/**
 * The command that starts echo server `id` (`workers` for the Speedo workers server;
 * `speedoArgs` are passed to both Speedo servers, e.g. `--max-line-length`; `loops` to every
 * Speedo server, named in its name when above 1).
 */
export function echoServerCommand(
  id: ServerId,
  workers: number,
  speedoArgs: string[] = [],
  loops = 1,
): ServerCommand {
  const command = echoServerCommandOn(id, workers, [
    ...speedoArgs,
    ...(loops > 1 ? ["--loops", String(loops)] : []),
  ]);
  if (loops > 1 && id.startsWith("speedo")) command.name += `, ${loops} loops`;
  return command;
}

function echoServerCommandOn(
  id: ServerId,
  workers: number,
  speedoArgs: string[],
): ServerCommand {
  // -A: the children need the network, /proc, and (Speedo) workers that inherit permissions.
  const deno = (script: string, ...args: string[]): string[] => [
    "run",
    "-A",
    "--config",
    `${rootPath}deno.json`,
    benchPath(script),
    "--until-stdin-closes",
    ...args,
  ];
  switch (id) {
    case "raw-deno":
      return { name: "raw Deno.listen", command: Deno.execPath(), args: deno("_raw_deno_echo.ts") };
    case "node":
      return {
        name: "Node net",
        command: "node",
        args: [benchPath("_node_echo.mjs"), "--until-stdin-closes"],
      };
    case "speedo-inline":
      return {
        name: "Speedo inline",
        command: Deno.execPath(),
        args: deno("_speedo_echo.ts", "--workers", "0", ...speedoArgs),
      };
    case "speedo-workers":
      return {
        name: `Speedo ${workers} workers, batch`,
        command: Deno.execPath(),
        args: deno("_speedo_echo.ts", "--workers", String(workers), ...speedoArgs),
      };
    case "speedo-ring":
      return {
        name: `Speedo ${workers} workers, ring`,
        command: Deno.execPath(),
        args: deno(
          "_speedo_echo.ts",
          "--workers",
          String(workers),
          "--transport",
          "ring",
          ...speedoArgs,
        ),
      };
  }
}

/**
 * The version of the real Node on PATH, or `undefined`. Deno 2.9 puts its own `node` shim (Deno
 * itself, in Node compatibility) on the PATH of its children when there is no `node`: asking
 * `process.versions.deno` tells that shim from Node.
 */
export async function nodeVersion(): Promise<string | undefined> {
  try {
    const { success, stdout } = await new Deno.Command("node", {
      args: ["-p", 'process.versions.deno ? "deno" : process.version'],
      stdout: "piped",
      stderr: "null",
    }).output();
    const version = new TextDecoder().decode(stdout).trim();
    return success && /^v\d+\.\d+\.\d+$/.test(version) ? version : undefined;
  } catch {
    return undefined;
  }
}

export function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
  } catch {
    return "unknown";
  }
}
