import { assert, assertEquals, assertFalse } from "@std/assert";
import { scramSha256, ScramSha256Client, scramSha256Credentials } from "./scram_sha256.ts";
import type { MqttAuthAnswer, MqttAuthExchange } from "./mqtt_enhanced_auth.ts";

const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);
const bytes = (value: string) => new TextEncoder().encode(value);

// RFC 7677 §3: user "user", password "pencil", and the RFC's nonces and salt.
const CLIENT_NONCE = "rOprNGfwEbeRWgbNEkqO";
const SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const SALT = Uint8Array.from(atob("W22ZaJ0SNY7soEsUEjb6gQ=="), (c) => c.charCodeAt(0));
const CLIENT_FIRST = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const SERVER_FIRST =
  "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const CLIENT_FINAL =
  "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const SERVER_FINAL = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

async function rfcExchange(): Promise<MqttAuthExchange> {
  const credentials = await scramSha256Credentials("pencil", { salt: SALT, iterations: 4096 });
  const method = scramSha256({
    credentials: (name) => name === "user" ? credentials : undefined,
    nonce: () => SERVER_NONCE,
  });
  return method({ method: "SCRAM-SHA-256", clientId: "c", reauthentication: false });
}

function data(answer: MqttAuthAnswer): string {
  if ("continue" in answer) return text(answer.continue);
  if ("success" in answer) return text(answer.data);
  throw new Error(`refused: ${answer.refused}`);
}

Deno.test("ScramSha256Client writes RFC 7677's client messages and checks its server signature", async () => {
  const client = new ScramSha256Client("user", "pencil", { nonce: CLIENT_NONCE });
  assertEquals(text(client.first()), CLIENT_FIRST);
  assertEquals(text(await client.final(bytes(SERVER_FIRST))), CLIENT_FINAL);
  assert(client.verify(bytes(SERVER_FINAL)));
  assertFalse(client.verify(bytes("v=AAAA")));
  assertFalse(client.verify(bytes("e=invalid-proof")));
});

Deno.test("scramSha256 answers RFC 7677's server messages and names the user", async () => {
  const exchange = await rfcExchange();
  assertEquals(data(await exchange(bytes(CLIENT_FIRST))), SERVER_FIRST);
  const final = await exchange(bytes(CLIENT_FINAL));
  assertEquals(data(final), SERVER_FINAL);
  assertEquals("success" in final && final.success, { name: "user" });
  // Over: a third message is refused.
  assert("refused" in await exchange(bytes(CLIENT_FINAL)));
});

Deno.test("scramSha256 refuses a wrong proof and an unknown user alike, with 0x86", async () => {
  const wrong = await rfcExchange();
  await wrong(bytes(CLIENT_FIRST));
  const tampered = CLIENT_FINAL.replace("p=dHzb", "p=dHzc");
  assertEquals((await wrong(bytes(tampered)) as { reasonCode?: number }).reasonCode, 0x86);

  const unknown = await rfcExchange();
  const first = data(await unknown(bytes("n,,n=nobody,r=abc")));
  // A salt and 4096 iterations all the same: the answer does not tell the name is unknown.
  assert(/^r=abc.+,s=[A-Za-z0-9+/]{22}==,i=4096$/.test(first), first);
  const client = new ScramSha256Client("nobody", "x", { nonce: "abc" });
  const final = await unknown(await client.final(bytes(first)));
  assertEquals((final as { reasonCode?: number }).reasonCode, 0x86);
});

Deno.test("scramSha256 refuses what is not SCRAM, channel binding, and a changed nonce", async () => {
  for (const first of ["hello", "p=tls-unique,,n=user,r=a", "n,a=admin,n=user,r=a", "n,,n=user"]) {
    const exchange = await rfcExchange();
    assert("refused" in await exchange(bytes(first)), first);
  }
  const exchange = await rfcExchange();
  await exchange(bytes(CLIENT_FIRST));
  const otherNonce = CLIENT_FINAL.replace("k0,p=", "k1,p=");
  assert("refused" in await exchange(bytes(otherNonce)));
  const missing = await rfcExchange();
  assert("refused" in await missing(undefined));
});

Deno.test("scramSha256 with the client: names escaped, any password, round trip", async () => {
  const credentials = await scramSha256Credentials("pässwörd", { iterations: 4096 });
  const exchange = scramSha256({
    credentials: (name) => name === "a,b=c" ? { ...credentials, grants: ["x"] } : undefined,
  })({ method: "SCRAM-SHA-256", clientId: "c", reauthentication: false });
  const client = new ScramSha256Client("a,b=c", "pässwörd");
  const serverFirst = data(await exchange(client.first()));
  const final = await exchange(await client.final(bytes(serverFirst)));
  assertEquals("success" in final && final.success, { name: "a,b=c", grants: ["x"] });
  assert(client.verify(bytes(data(final))));
});
