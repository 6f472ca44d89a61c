/**
 * The Node comparison of `http_load.ts`: `node:http` with the same response as the others
 * (`content-type: text/plain;charset=UTF-8`, as `new Response(string)` sets it).
 *
 * `node bench/_http_node.mjs [--until-stdin-closes] [--cert cert.pem --key key.pem]` listens on
 * 127.0.0.1 (`https` with a certificate), on a free port, and prints the port as the first line
 * of stdout.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import process from "node:process";

if (process.argv.includes("--until-stdin-closes")) {
  // The bench's pipe on stdin closes when the bench ends or dies: end with it.
  process.stdin.on("end", () => process.exit(0));
  process.stdin.on("error", () => process.exit(0));
  process.stdin.resume();
}

const BODY = "Hello, World!";

const flag = (name) => {
  const at = process.argv.indexOf(name);
  return at < 0 ? undefined : process.argv[at + 1];
};
const cert = flag("--cert");
const key = flag("--key");
const handler = (_request, response) => {
  response.writeHead(200, {
    "content-type": "text/plain;charset=UTF-8",
    "content-length": Buffer.byteLength(BODY),
  });
  response.end(BODY);
};
const server = cert && key
  ? https.createServer({ cert: readFileSync(cert), key: readFileSync(key) }, handler)
  : http.createServer(handler);
server.keepAliveTimeout = 0;
server.listen(0, "127.0.0.1", () => {
  console.log(server.address().port);
});
