/**
 * The version of `@speedo/speedo`, as deno.json says it: written here because a published
 * module cannot read deno.json, and checked against it by `version_test.ts`.
 *
 * @module
 */

/** The package's version, as deno.json's `version`. */
export const VERSION = "0.1.0";
