import { assertEquals } from "@std/assert";
import { Log, type LogOptions } from "./_log.ts";

function recorded(options: LogOptions): { log: Log; written: string[] } {
  const written: string[] = [];
  const log = new Log({ ...options, write: (text) => written.push(text), now: () => new Date(0) });
  return { log, written };
}

Deno.test("Log writes text lines with time and level, from its level up", () => {
  const { log, written } = recorded({ level: "warn" });
  log.info("listening", "hidden");
  log.warn("slow", "a slow consumer");
  log.error("error", "boom", { code: 1 });
  assertEquals(written, [
    "1970-01-01T00:00:00.000Z warn  a slow consumer\n",
    "1970-01-01T00:00:00.000Z error boom\n",
  ]);
  assertEquals([log.logs("info"), log.logs("error")], [false, true]);
});

Deno.test("Log writes JSON lines with time, level, event, message and fields", () => {
  const { log, written } = recorded({ format: "json", level: "debug" });
  log.debug("connected", "connection 3 opened", { id: 3, loop: 0, gone: undefined });
  assertEquals(JSON.parse(written[0]), {
    time: "1970-01-01T00:00:00.000Z",
    level: "debug",
    event: "connected",
    message: "connection 3 opened",
    id: 3,
    loop: 0,
  });
  assertEquals(written[0].endsWith("}\n"), true);
});

Deno.test("Log redraws the status line in place and writes event lines above it", () => {
  const { log, written } = recorded({});
  log.status("1 connection");
  log.status("1 connection");
  log.info("closed", "bye");
  log.status("");
  assertEquals(written, [
    "\r\x1b[2K1 connection",
    "\r\x1b[2K1970-01-01T00:00:00.000Z info  bye\n1 connection",
    "\r\x1b[2K",
  ]);
});
