/** A handler module given as a URL, an absolute specifier, or a path from the working directory, as an absolute URL. */
export function resolveModule(specifier: string | URL): string {
  if (specifier instanceof URL) return specifier.href;
  if (/^[a-z][a-z0-9+.-]*:/i.test(specifier)) return specifier;
  return new URL(specifier, `file://${Deno.cwd()}/`).href;
}
