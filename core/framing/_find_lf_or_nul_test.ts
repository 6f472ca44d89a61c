import { assert, assertEquals } from "@std/assert";
import { findLfOrNul, hasSimdScan } from "./_find_lf_or_nul.ts";

/** The answer by the definition: the first LF or NUL from `from`, or -1. */
function naive(bytes: Uint8Array, from: number): number {
  for (let i = from; i < bytes.length; i++) if (bytes[i] === 0x0a || bytes[i] === 0x00) return i;
  return -1;
}

/** A deterministic generator (xorshift), so a failure is reproducible. */
function random(seed: number): () => number {
  let state = seed | 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x100000000;
  };
}

Deno.test("findLfOrNul loads its WebAssembly SIMD scan here", () => {
  // Deno 2 on x86-64 and arm64 has WebAssembly SIMD: a module that fails to load is a bug.
  assert(hasSimdScan);
});

Deno.test("findLfOrNul finds the first LF or NUL at every distance, near and far, LF or NUL", () => {
  // Lengths around the word scan's, the near scan's and the SIMD blocks' edges.
  const distances = [0, 1, 15, 16, 17, 255, 256, 1023, 1024, 1025, 1040, 3071, 3072, 3073, 7200];
  for (const distance of [...distances, 65_535, 65_536, 65_537, 200_000]) {
    for (const ending of [0x0a, 0x00]) {
      for (const from of [0, 1, 3]) {
        const bytes = new Uint8Array(from + distance + 40).fill(0x61);
        // Bytes that look like the ones sought but are not (0x02 and 0x08 pass the word mask).
        bytes[from + (distance >> 1)] = distance > 0 ? 0x02 : 0x61;
        bytes[from + distance] = ending;
        bytes[from + distance + 7] = 0x0a;
        assertEquals(findLfOrNul(bytes, from), from + distance, `distance ${distance}`);
      }
    }
  }
});

Deno.test("findLfOrNul returns -1 when no LF or NUL follows, at any length and offset", () => {
  for (const length of [0, 1, 300, 1500, 5000, 70_000, 300_000]) {
    const backing = new Uint8Array(length + 8).fill(0x0a);
    // A view with a misaligned start and bytes sought just outside it on both sides.
    const bytes = backing.subarray(3, 3 + length).fill(0x7f);
    assertEquals(findLfOrNul(bytes, 0), -1, `length ${length}`);
    if (length > 0) {
      bytes[0] = 0x00;
      assertEquals(findLfOrNul(bytes, 1), -1, `length ${length}, from 1`);
    }
  }
});

Deno.test("findLfOrNul agrees with a byte-by-byte scan on random data", () => {
  const next = random(0x5eed);
  for (let round = 0; round < 200; round++) {
    const length = Math.floor(next() * 150_000);
    const offset = Math.floor(next() * 8);
    const bytes = new Uint8Array(length + offset).subarray(offset);
    for (let i = 0; i < length; i++) bytes[i] = 1 + Math.floor(next() * 255);
    // A few ends, often none within the first kilobytes.
    const ends = Math.floor(next() * 4);
    for (let e = 0; e < ends; e++) {
      bytes[Math.floor(next() * length)] = next() < 0.5 ? 0x0a : 0x00;
    }
    const from = Math.floor(next() * Math.max(1, length));
    assertEquals(findLfOrNul(bytes, from), naive(bytes, from), `round ${round}`);
  }
});

Deno.test("findLfOrNul's embedded module is _find_lf_or_nul.wat assembled", async () => {
  const { assembledBase64, embeddedBase64 } = await import("../../tools/build_find_lf_or_nul.ts");
  assertEquals(await embeddedBase64(), await assembledBase64());
});
