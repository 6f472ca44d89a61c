import { STATUS_TEXT } from "./_response_writer.ts";

/** Content types by file extension (lower case, without the dot). */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  json: "application/json",
  map: "application/json",
  txt: "text/plain; charset=utf-8",
  md: "text/markdown; charset=utf-8",
  csv: "text/csv; charset=utf-8",
  xml: "application/xml",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  avif: "image/avif",
  ico: "image/x-icon",
  wasm: "application/wasm",
  pdf: "application/pdf",
  zip: "application/zip",
  gz: "application/gzip",
  woff: "font/woff",
  woff2: "font/woff2",
  ttf: "font/ttf",
  otf: "font/otf",
  mp3: "audio/mpeg",
  ogg: "audio/ogg",
  wav: "audio/wav",
  mp4: "video/mp4",
  webm: "video/webm",
};

/**
 * The content type of a file, from its extension.
 *
 * @param path A file name or path.
 * @returns The type, or `application/octet-stream` for an unknown extension.
 *
 * @example
 * ```ts
 * import { contentType } from "@speedo/speedo/http";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(contentType("/app/index.HTML"), "text/html; charset=utf-8");
 * assertEquals(contentType("data.bin"), "application/octet-stream");
 * ```
 */
export function contentType(path: string): string {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  if (dot < 0) return "application/octet-stream";
  return CONTENT_TYPES[name.slice(dot + 1).toLowerCase()] ?? "application/octet-stream";
}

/** Options of {@linkcode serveDir}. */
export interface ServeDirOptions {
  /**
   * The file served for a directory.
   *
   * @default {"index.html"}
   */
  index?: string;
  /**
   * Whether files and folders whose name starts with a dot (`.env`, `.git`) are served.
   *
   * @default {false}
   */
  dotfiles?: boolean;
  /**
   * Files up to this size are read whole and sent in one write; larger ones are streamed with
   * their `content-length`.
   *
   * @default {1048576}
   */
  readWholeBelow?: number;
  /**
   * The `cache-control` header sent with files; none when empty.
   *
   * @default {""}
   */
  cacheControl?: string;
}

/** Error codes of a path that names nothing servable: answered as a missing file. */
const NOT_FOUND_CODES = new Set(["ENOENT", "ENOTDIR", "ELOOP", "ENAMETOOLONG", "EINVAL", "EILSEQ"]);

/**
 * The status for a filesystem error that the request's path caused (a name too long, a file
 * used as a folder, a loop of links, a name the filesystem cannot hold, a file the server may
 * not read), or `undefined` for the server's own failures (out of file descriptors, I/O error,
 * no `--allow-read`), which are rethrown and logged. A peer choosing its path must not be
 * able to make the server log or answer 500.
 */
function pathErrorStatus(error: unknown): 403 | 404 | undefined {
  if (error instanceof Deno.errors.PermissionDenied) return 403;
  if (
    error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory ||
    error instanceof Deno.errors.FilesystemLoop
  ) {
    return 404;
  }
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && NOT_FOUND_CODES.has(code) ? 404 : undefined;
}

/**
 * The real path of `path` (links resolved), or `undefined` when it names nothing or lies
 * outside `base`. Links are resolved before anything else is looked at, so that a link out of
 * the root answers as a missing file does, whatever it points to: a 403, a redirect or another
 * error would tell what exists outside.
 */
async function resolve(path: string, base: string): Promise<string | undefined> {
  let real: string;
  try {
    real = await Deno.realPath(path);
  } catch (error) {
    if (pathErrorStatus(error) === undefined) throw error;
    return undefined;
  }
  return real === base || real.startsWith(`${base}/`) ? real : undefined;
}

function status(code: number, extra: HeadersInit = {}): Response {
  return new Response(`${code} ${STATUS_TEXT[code] ?? ""}\n`, {
    status: code,
    headers: { "content-type": "text/plain; charset=utf-8", ...extra },
  });
}

/**
 * Makes a request handler that serves the files under `root`: `GET` and `HEAD` only (405
 * otherwise), content types by extension, `index.html` for folders, `ETag`/`Last-Modified`
 * with `304 Not Modified`.
 *
 * Repeated slashes count as one, as in nginx (`//docs` is `/docs`). A folder asked for without
 * its trailing slash is redirected (301) to its path with one slash between segments: the
 * `Location` never starts with `//` or `/\`, which a browser would follow to another host.
 *
 * Paths are refused with 403 when a segment decodes to `..`, or holds `/`, `\` or NUL (so
 * `%2e%2e%2f` cannot climb). A path whose real path (symbolic links resolved) lies outside the
 * root's real path answers exactly as a missing file, 404, so that nothing outside the root
 * can be probed. Dotfiles are 404 unless `dotfiles` is set. A missing file is 404, and so is a
 * path the filesystem refuses (a name too long, a file used as a folder, a loop of links); a
 * file in the root the server may not read is 403. Neither is an error of the server's: the
 * handler answers them and throws only for its own failures (such as running out of files).
 *
 * @param root The folder to serve (a path or a `file:` URL).
 * @param options Index file, dotfiles, streaming threshold, cache control.
 * @returns The handler, for `httpServer`'s `handler` or to call from your own.
 *
 * @example
 * ```ts
 * import { serveDir } from "@speedo/speedo/http";
 * import { assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${root}/hello.txt`, "hi");
 * const serve = serveDir(root);
 * const response = await serve(new Request("http://localhost/hello.txt"));
 * assertEquals(response.headers.get("content-type"), "text/plain; charset=utf-8");
 * assertEquals(await response.text(), "hi");
 * const climb = await serve(new Request("http://localhost/..%2f..%2fetc%2fpasswd"));
 * assertEquals(climb.status, 403);
 * await climb.body?.cancel();
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function serveDir(
  root: string | URL,
  options: ServeDirOptions = {},
): (request: Request) => Promise<Response> {
  const rootPath = root instanceof URL ? decodeURIComponent(root.pathname) : root;
  const index = options.index ?? "index.html";
  const dotfiles = options.dotfiles ?? false;
  const readWholeBelow = options.readWholeBelow ?? 1024 * 1024;
  const cacheControl = options.cacheControl ?? "";
  if (!Number.isInteger(readWholeBelow) || readWholeBelow < 0) {
    throw new RangeError(`readWholeBelow must be a non-negative integer, got ${readWholeBelow}`);
  }
  let realRoot: Promise<string> | undefined;

  return async (request: Request): Promise<Response> => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return status(405, { allow: "GET, HEAD" });
    }
    const pathname = new URL(request.url).pathname;
    const segments: string[] = [];
    // The path with one slash between segments and no `.`: a folder's redirect goes there,
    // never to `${pathname}/`, since `//evil.example.com/` (or `/\evil...`, which the URL
    // parser turns into `//`) is a protocol-relative URL that browsers follow to that host.
    let canonical = "/";
    for (const raw of pathname.split("/")) {
      if (raw === "") continue;
      let segment: string;
      try {
        segment = decodeURIComponent(raw);
      } catch {
        return status(400);
      }
      if (segment === ".." || /[\/\\\0]/.test(segment)) return status(403);
      if (segment === ".") continue;
      if (segment.startsWith(".") && !dotfiles) return status(404);
      segments.push(segment);
      canonical += `${raw}/`;
    }
    realRoot ??= Deno.realPath(rootPath);
    let base: string;
    try {
      base = await realRoot;
    } catch {
      realRoot = undefined;
      return status(404);
    }
    try {
      let real = await resolve([base, ...segments].join("/"), base);
      if (real === undefined) return status(404);
      let info = await Deno.stat(real);
      if (info.isDirectory) {
        if (!pathname.endsWith("/")) {
          return new Response(null, { status: 301, headers: { location: canonical } });
        }
        real = await resolve(`${real}/${index}`, base);
        if (real === undefined) return status(404);
        info = await Deno.stat(real);
      }
      if (!info.isFile) return status(404);
      const etag = `W/"${info.size.toString(16)}-${(info.mtime?.getTime() ?? 0).toString(16)}"`;
      const headers: Record<string, string> = {
        "content-type": contentType(real),
        etag,
      };
      if (info.mtime) headers["last-modified"] = info.mtime.toUTCString();
      if (cacheControl !== "") headers["cache-control"] = cacheControl;
      const ifNoneMatch = request.headers.get("if-none-match");
      if (ifNoneMatch !== null && ifNoneMatch.split(",").some((tag) => tag.trim() === etag)) {
        return new Response(null, { status: 304, headers });
      }
      if (request.method === "HEAD" || info.size <= readWholeBelow) {
        headers["content-length"] = String(info.size);
        if (request.method === "HEAD") return new Response(null, { headers });
        return new Response(await Deno.readFile(real), { headers });
      }
      const file = await Deno.open(real, { read: true });
      headers["content-length"] = String(info.size);
      return new Response(file.readable, { headers });
    } catch (error) {
      const answer = pathErrorStatus(error);
      if (answer === undefined) throw error;
      return status(answer);
    }
  };
}
