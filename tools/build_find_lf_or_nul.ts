/**
 * Assembles `core/framing/_find_lf_or_nul.wat` and writes the bytes, base64, into
 * `core/framing/_find_lf_or_nul.ts` (its `WASM_BASE64`). Run it after changing the `.wat`:
 *
 * ```
 * deno run -A tools/build_find_lf_or_nul.ts [--check]
 * ```
 *
 * `--check` changes nothing and exits 1 when the embedded bytes are not the `.wat` assembled.
 *
 * @module
 */

import wabt from "wabt";

const root = new URL("../core/framing/", import.meta.url);
const watUrl = new URL("_find_lf_or_nul.wat", root);
const tsUrl = new URL("_find_lf_or_nul.ts", root);

/** The `.wat` assembled, base64. */
export async function assembledBase64(): Promise<string> {
  const tools = await wabt();
  const module = tools.parseWat("_find_lf_or_nul.wat", await Deno.readTextFile(watUrl), {
    simd: true,
  });
  try {
    const { buffer } = module.toBinary({});
    return btoa(String.fromCharCode(...buffer));
  } finally {
    module.destroy();
  }
}

/** The base64 embedded in `_find_lf_or_nul.ts`. */
export async function embeddedBase64(): Promise<string> {
  const match = (await Deno.readTextFile(tsUrl)).match(/WASM_BASE64 =\s*"([^"]*)"/);
  if (match === null) throw new Error("No WASM_BASE64 string in _find_lf_or_nul.ts");
  return match[1];
}

if (import.meta.main) {
  const built = await assembledBase64();
  const embedded = await embeddedBase64();
  if (Deno.args.includes("--check")) {
    console.log(built === embedded ? "up to date" : "stale: run without --check");
    Deno.exit(built === embedded ? 0 : 1);
  }
  const source = await Deno.readTextFile(tsUrl);
  await Deno.writeTextFile(tsUrl, source.replace(embedded, built));
  console.log(built === embedded ? "unchanged" : "updated");
}
