/**
 * A throwaway TLS identity for tests, made with `openssl` at test time (never committed).
 *
 * @module
 */

/** A PEM leaf certificate for `localhost` and 127.0.0.1, its key, and the CA that signed it. */
export interface TestCertificate {
  /** The server's certificate. */
  cert: string;
  /** The server's private key. */
  key: string;
  /** The CA certificate clients trust (`caCerts: [ca]`). */
  ca: string;
}

/** Certificates made, by the name of their CA. */
const made = new Map<string, Promise<TestCertificate>>();

/** Whether `openssl` can be run here. */
export function hasOpenssl(): boolean {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const { success, stderr } = await new Deno.Command("openssl", {
    args,
    cwd,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(stderr)}`);
  }
}

/**
 * Makes (once per process and name) a CA and a leaf certificate signed by it, valid for a
 * day. rustls refuses a self-signed certificate used as its own CA, hence the two. Another
 * name gives another CA (a client certificate that a server must not trust, say).
 */
export function testCertificate(name = "Speedo test CA"): Promise<TestCertificate> {
  let certificate = made.get(name);
  if (certificate !== undefined) return certificate;
  certificate = (async () => {
    const dir = await Deno.makeTempDir({ prefix: "speedo-tls-" });
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    try {
      await openssl(
        [
          "req",
          "-x509",
          ...ec,
          "-days",
          "1",
          "-subj",
          `/CN=${name}`,
          "-keyout",
          "ca.key",
          "-out",
          "ca.pem",
        ],
        dir,
      );
      await openssl(
        ["req", ...ec, "-subj", "/CN=localhost", "-keyout", "key.pem", "-out", "leaf.csr"],
        dir,
      );
      await Deno.writeTextFile(
        `${dir}/leaf.ext`,
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
      );
      await openssl(
        [
          "x509",
          "-req",
          "-in",
          "leaf.csr",
          "-CA",
          "ca.pem",
          "-CAkey",
          "ca.key",
          "-CAcreateserial",
          "-days",
          "1",
          "-extfile",
          "leaf.ext",
          "-out",
          "cert.pem",
        ],
        dir,
      );
      return {
        cert: await Deno.readTextFile(`${dir}/cert.pem`),
        key: await Deno.readTextFile(`${dir}/key.pem`),
        ca: await Deno.readTextFile(`${dir}/ca.pem`),
      };
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  })();
  made.set(name, certificate);
  return certificate;
}
