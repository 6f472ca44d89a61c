/**
 * A corpus of malformed and hostile HTTP requests, each with the status the server must answer
 * before it closes the connection. Used by the parser's tests (at every chunk size) and by the
 * server's tests (over real sockets).
 *
 * @module
 */

/** One bad request and its answer. */
export interface BadRequest {
  /** What is wrong, for the test's name. */
  name: string;
  /** The bytes sent. */
  input: string;
  /** The status answered. */
  status: number;
}

const H = "Host: x\r\n";

/** The corpus. */
export const BAD_REQUESTS: readonly BadRequest[] = [
  { name: "bare LF after the request line", input: `GET / HTTP/1.1\n${H}\r\n`, status: 400 },
  { name: "bare LF after a header", input: "GET / HTTP/1.1\r\nHost: x\n\r\n", status: 400 },
  { name: "bare LF ending the head", input: `GET / HTTP/1.1\r\n${H}\n`, status: 400 },
  { name: "bare LF everywhere", input: "GET / HTTP/1.1\nHost: x\n\n", status: 400 },
  { name: "missing version", input: `GET /\r\n${H}\r\n`, status: 400 },
  { name: "truncated version", input: `GET / HTTP/1\r\n${H}\r\n`, status: 400 },
  { name: "not HTTP", input: `GET / FTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: "two spaces in the request line", input: `GET  / HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: "HTTP/2.0", input: `GET / HTTP/2.0\r\n${H}\r\n`, status: 505 },
  { name: "HTTP/0.9", input: `GET / HTTP/0.9\r\n${H}\r\n`, status: 505 },
  { name: "HTTP/1.2", input: `GET / HTTP/1.2\r\n${H}\r\n`, status: 505 },
  { name: "unknown method", input: `BREW / HTTP/1.1\r\n${H}\r\n`, status: 501 },
  { name: "lower-case method", input: `get / HTTP/1.1\r\n${H}\r\n`, status: 501 },
  { name: "CONNECT", input: `CONNECT x:443 HTTP/1.1\r\n${H}\r\n`, status: 501 },
  { name: "TRACE", input: `TRACE / HTTP/1.1\r\n${H}\r\n`, status: 501 },
  { name: "method with a bad byte", input: `GE(T / HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: "target not a path", input: `GET foo HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: "asterisk for GET", input: `GET * HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: "NUL in the target", input: `GET /a\0b HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: "header without colon", input: "GET / HTTP/1.1\r\nHost x\r\n\r\n", status: 400 },
  { name: "space before colon", input: "GET / HTTP/1.1\r\nHost : x\r\n\r\n", status: 400 },
  { name: "empty header name", input: `GET / HTTP/1.1\r\n${H}: v\r\n\r\n`, status: 400 },
  {
    name: "bad byte in a header name",
    input: `GET / HTTP/1.1\r\n${H}X(y): 1\r\n\r\n`,
    status: 400,
  },
  { name: "obs-fold", input: `GET / HTTP/1.1\r\n${H}X-A: 1\r\n  2\r\n\r\n`, status: 400 },
  {
    name: "control byte in a value",
    input: `GET / HTTP/1.1\r\n${H}X-A: a\x01b\r\n\r\n`,
    status: 400,
  },
  { name: "bare CR in a value", input: `GET / HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n`, status: 400 },
  { name: "missing Host in 1.1", input: "GET / HTTP/1.1\r\n\r\n", status: 400 },
  { name: "duplicate Host", input: `GET / HTTP/1.1\r\n${H}${H}\r\n`, status: 400 },
  { name: "Host with a path", input: "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", status: 400 },
  { name: "Host with userinfo", input: "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", status: 400 },
  {
    name: "huge header",
    input: `GET / HTTP/1.1\r\n${H}X-Big: ${"a".repeat(9000)}\r\n\r\n`,
    status: 431,
  },
  {
    name: "too many headers",
    input: `GET / HTTP/1.1\r\n${H}${"X-A: 1\r\n".repeat(100)}\r\n`,
    status: 431,
  },
  { name: "huge URI", input: `GET /${"a".repeat(9000)} HTTP/1.1\r\n${H}\r\n`, status: 414 },
  {
    name: "negative Content-Length",
    input: `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`,
    status: 400,
  },
  {
    name: "signed Content-Length",
    input: `POST / HTTP/1.1\r\n${H}Content-Length: +1\r\n\r\nx`,
    status: 400,
  },
  {
    name: "non-numeric Content-Length",
    input: `POST / HTTP/1.1\r\n${H}Content-Length: abc\r\n\r\n`,
    status: 400,
  },
  {
    name: "empty Content-Length",
    input: `POST / HTTP/1.1\r\n${H}Content-Length:\r\n\r\n`,
    status: 400,
  },
  {
    name: "list Content-Length",
    input: `POST / HTTP/1.1\r\n${H}Content-Length: 1, 1\r\n\r\nx`,
    status: 400,
  },
  {
    name: "duplicate equal Content-Length",
    input: `POST / HTTP/1.1\r\n${H}Content-Length: 1\r\nContent-Length: 1\r\n\r\nx`,
    status: 400,
  },
  {
    name: "duplicate different Content-Length",
    input: `POST / HTTP/1.1\r\n${H}Content-Length: 1\r\nContent-Length: 2\r\n\r\nxx`,
    status: 400,
  },
  {
    name: "Content-Length over the body limit",
    input: `POST / HTTP/1.1\r\n${H}Content-Length: 2000000\r\n\r\n`,
    status: 413,
  },
  {
    name: "Content-Length with 30 digits",
    input: `POST / HTTP/1.1\r\n${H}Content-Length: ${"9".repeat(30)}\r\n\r\n`,
    status: 413,
  },
  {
    name: "smuggling: Content-Length then Transfer-Encoding",
    input:
      `POST / HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    status: 400,
  },
  {
    name: "smuggling: Transfer-Encoding then Content-Length",
    input:
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n`,
    status: 400,
  },
  {
    name: "smuggling: Transfer-Encoding not ending in chunked",
    input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n`,
    status: 400,
  },
  {
    name: "smuggling: Transfer-Encoding xchunked",
    input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n`,
    status: 400,
  },
  {
    name: "smuggling: duplicate Transfer-Encoding",
    input:
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`,
    status: 400,
  },
  {
    name: "smuggling: Transfer-Encoding in HTTP/1.0",
    input: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    status: 400,
  },
  {
    name: "smuggling: Transfer-Encoding with a control byte",
    input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\x0b\r\n\r\n`,
    status: 400,
  },
  {
    name: "Transfer-Encoding gzip, chunked",
    input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n`,
    status: 501,
  },
  ...[
    ["non-hex chunk size", "zz\r\n"],
    ["negative chunk size", "-1\r\n"],
    ["0x chunk size", "0x5\r\nhello\r\n0\r\n\r\n"],
    ["empty chunk size", "\r\n"],
    ["chunk size with bare LF", "5\nhello\r\n0\r\n\r\n"],
    ["chunk data not followed by CRLF", "5\r\nhelloX\r\n0\r\n\r\n"],
    ["chunk data followed by bare LF", "5\r\nhello\n0\r\n\r\n"],
    ["chunk extension with a control byte", "5;a=\x01\r\nhello\r\n0\r\n\r\n"],
    ["bare LF after the last chunk", "0\r\n\n"],
    ["malformed trailer", "0\r\nnot a trailer\r\n\r\n"],
  ].map(([name, body]) => ({
    name,
    input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${body}`,
    status: 400,
  })),
  {
    name: "chunk size overflowing",
    input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${"f".repeat(20)}\r\n`,
    status: 413,
  },
  {
    name: "chunked body over the limit",
    input: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n100001\r\n`,
    status: 413,
  },
  {
    name: "too many empty lines first",
    input: `${"\r\n".repeat(9)}GET / HTTP/1.1\r\n${H}\r\n`,
    status: 400,
  },
];
