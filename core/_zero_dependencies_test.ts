import { assertEquals } from "@std/assert";

/** Files published (see `publish.exclude` in deno.json) that are code, from the repo root. */
async function publishedSources(): Promise<string[]> {
  const root = new URL("../", import.meta.url);
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  const excluded: string[] = config.publish.exclude;
  // `**/*<suffix>` patterns exclude by name anywhere (`**/*_test.ts`, `**/*_test_helper.ts`).
  const suffixes = excluded.filter((pattern) => pattern.startsWith("**/*"))
    .map((pattern) => pattern.slice(4));
  const files: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(new URL(dir, root))) {
      const path = `${dir}${entry.name}`;
      if (entry.isDirectory) {
        if (!excluded.includes(`${path}/`)) await walk(`${path}/`);
      } else if (
        /\.(ts|js|mjs)$/.test(entry.name) &&
        !suffixes.some((suffix) => entry.name.endsWith(suffix)) && !excluded.includes(path)
      ) {
        files.push(path);
      }
    }
  };
  for (const dir of ["core/", "protocols/", "testing/", "cli/"]) await walk(dir);
  return [...files, "mod.ts"];
}

/** Node's built-in modules ship with Deno itself: nothing is downloaded for them. */
const inside = (specifier: string) => specifier.startsWith(".") || specifier.startsWith("node:");

Deno.test("Published modules import nothing outside the package", async () => {
  const outside: string[] = [];
  for (const path of await publishedSources()) {
    const text = await Deno.readTextFile(new URL(`../${path}`, import.meta.url));
    // Import and export statements at the start of a line: doc examples (` * import`) are not.
    const statements =
      /^(?:import|export)(?:\s+type)?\s+(?:[\w*\s,]+|\{[^}]*\})(?:,\s*\{[^}]*\})?\s*from\s+"([^"]+)"/gm;
    for (const match of text.matchAll(statements)) {
      if (!inside(match[1])) outside.push(`${path}: ${match[1]}`);
    }
    for (const match of text.matchAll(/\bimport\(\s*"([^"]+)"/g)) {
      if (!inside(match[1])) outside.push(`${path}: ${match[1]}`);
    }
  }
  assertEquals(outside, []);
});
