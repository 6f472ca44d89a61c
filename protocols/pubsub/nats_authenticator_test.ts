import { assertEquals, assertThrows } from "@std/assert";
import { createUser } from "nkeys.js";
import { natsAuthenticator } from "./nats_authenticator.ts";
import { makeNonce, userPublicKey } from "./_nkeys.ts";

const request = (credentials: Record<string, unknown>, protocol = "nats") => ({
  protocol,
  listener: 0,
  credentials,
});

Deno.test("natsAuthenticator: users with passwords, and their permissions", async () => {
  const authenticate = natsAuthenticator({
    users: [
      { user: "a", password: "pa", permissions: { publish: ["x"] } },
      { user: "b", password: "pb" },
    ],
    default_permissions: { subscribe: ["y"] },
  });
  assertEquals(await authenticate(request({ user: "a", pass: "pa" })), {
    name: "a",
    grants: { publish: ["x"] },
  });
  assertEquals(await authenticate(request({ user: "b", pass: "pb" })), {
    name: "b",
    grants: { subscribe: ["y"] },
  });
  for (const bad of [{ user: "a", pass: "pb" }, { user: "c", pass: "pa" }, {}]) {
    const result = await authenticate(request(bad));
    assertEquals("refused" in result, true, JSON.stringify(bad));
  }
  assertEquals(
    "refused" in await authenticate(request({ user: "a", pass: "pa" }, "session")),
    true,
  );
});

Deno.test("natsAuthenticator: a token", async () => {
  const authenticate = natsAuthenticator({ token: "t0k" });
  assertEquals(await authenticate(request({ auth_token: "t0k" })), { name: "token" });
  assertEquals("refused" in await authenticate(request({ auth_token: "t0" })), true);
  assertEquals("refused" in await authenticate(request({})), true);
});

Deno.test("natsAuthenticator: an nkey signs the nonce", async () => {
  const user = createUser();
  const nkey = user.getPublicKey();
  assertEquals(userPublicKey(nkey)?.length, 32);
  const authenticate = natsAuthenticator({ users: [{ nkey }] });
  const nonce = makeNonce();
  const signature = user.sign(new TextEncoder().encode(nonce));
  const sig = btoa(String.fromCharCode(...signature)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
  assertEquals(await authenticate(request({ nkey, sig, nonce })), { name: nkey });
  assertEquals("refused" in await authenticate(request({ nkey, sig, nonce: nonce + "x" })), true);
  const other = createUser();
  const stranger = other.getPublicKey();
  assertEquals("refused" in await authenticate(request({ nkey: stranger, sig, nonce })), true);
});

Deno.test("natsAuthenticator: malformed configurations are refused", () => {
  assertThrows(() => natsAuthenticator({ users: [{ user: "a" } as never] }), TypeError);
  assertThrows(() => natsAuthenticator({ users: [{ nkey: "UNOTAKEY" }] }), TypeError);
  assertThrows(
    () => natsAuthenticator({ users: [{ user: "a", password: "$2a$11$abc" }] }),
    TypeError,
  );
  assertThrows(
    () => natsAuthenticator({ token: "t", users: [{ user: "a", password: "b" }] }),
    TypeError,
  );
  assertThrows(
    () =>
      natsAuthenticator({
        users: [{ user: "a", password: "b", permissions: { publish: ["a..b"] } }],
      }),
    TypeError,
  );
});
