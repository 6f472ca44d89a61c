import { assertEquals } from "@std/assert";
import { VERSION } from "./version.ts";

Deno.test("VERSION is deno.json's version (change cli/version.ts with it)", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assertEquals(VERSION, config.version);
});
