/**
 * The pub/sub server's flags, shared by `speedo serve pubsub` and `examples/pubsub.ts`: the
 * largest payload, the backplane, and who may connect, by nats-server's own flags (`--user U
 * --pass P`, `--token T`) or its authorization block in a JSON file (`--auth FILE`). One table
 * of flags ({@linkcode PUBSUB_FLAGS}) and the server options they make
 * ({@linkcode pubsubOptions}).
 *
 * @module
 */

import {
  type Flag,
  FlagError,
  type FlagValues,
  integerFlag,
  listFlag,
  MAX_BYTES,
  textFlag,
} from "./_flags.ts";
import {
  natsAuthenticator,
  type NatsAuthorization,
} from "../protocols/pubsub/nats_authenticator.ts";
import type { PubSubServerOptions } from "../protocols/pubsub/pubsub_server.ts";

/**
 * The `--backplane` flag: NATS servers (`nats://host:port`, `tls://host:port`), repeatable.
 *
 * @param help What `--help` says of it.
 * @returns The flag.
 *
 * @example
 * ```ts
 * import { backplaneFlag } from "./_pubsub_flags.ts";
 * import { assertThrows } from "@std/assert";
 *
 * assertThrows(() => backplaneFlag("a NATS server").read("backplane", ["localhost"]), Error, "nats:// or tls://");
 * ```
 */
export function backplaneFlag(help: string): Flag<string[]> {
  return listFlag(help, "URL", {
    check: (text) => /^(nats|tls):\/\/\S+$/.test(text),
    requirement: "be a nats:// or tls:// URL",
  });
}

/** The pub/sub server's flags, by name. */
export const PUBSUB_FLAGS = {
  "max-payload": integerFlag({
    default: 1048576,
    min: 1,
    max: MAX_BYTES,
    help: "largest message payload in bytes",
  }),
  backplane: backplaneFlag(
    "a NATS server (nats://host:port) to join the pub/sub of other Speedo servers through",
  ),
  user: textFlag({ placeholder: "USER", help: "the user clients must log in as (with --pass)" }),
  pass: textFlag({ placeholder: "PASS", help: "the password of --user" }),
  token: textFlag({ placeholder: "TOKEN", help: "the token clients must present" }),
  auth: textFlag({
    placeholder: "FILE",
    help: "a JSON file of users and their permissions, as nats-server's authorization block",
  }),
};

/** What the pub/sub flags set of `pubsubServer`'s options. */
export type PubSubFlagOptions = Pick<PubSubServerOptions, "authenticate"> & {
  pubsub: NonNullable<PubSubServerOptions["pubsub"]>;
};

/**
 * Who may connect, as the flags say: one of `--user`/`--pass`, `--token` and `--auth`, or none
 * (anyone).
 *
 * @param values The values of {@linkcode PUBSUB_FLAGS}.
 * @returns The authorization for `natsAuthenticator`, or `undefined` when no flag was given.
 * @throws {FlagError} When more than one kind is given, `--user` without `--pass` (or the other
 *   way round), or an `--auth` file that cannot be read as JSON.
 *
 * @example
 * ```ts
 * import { natsAuthorization } from "./_pubsub_flags.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const none = { user: undefined, pass: undefined, token: undefined, auth: undefined };
 * assertEquals(natsAuthorization({ ...none, token: "t" }), { token: "t" });
 * assertThrows(() => natsAuthorization({ ...none, user: "ann" }), Error, "--user and --pass go together");
 * ```
 */
export function natsAuthorization(
  values: Pick<FlagValues<typeof PUBSUB_FLAGS>, "user" | "pass" | "token" | "auth">,
): NatsAuthorization | undefined {
  const { user, pass, token, auth } = values;
  const given = [user ?? pass, token, auth].filter((value) => value !== undefined);
  if (given.length > 1) throw new FlagError("Give one of --user/--pass, --token and --auth");
  if ((user === undefined) !== (pass === undefined)) {
    throw new FlagError("--user and --pass go together");
  }
  if (user !== undefined) return { users: [{ user, password: pass! }] };
  if (token !== undefined) return { token };
  if (auth === undefined) return undefined;
  try {
    return JSON.parse(Deno.readTextFileSync(auth)) as NatsAuthorization;
  } catch (error) {
    throw new FlagError(`--auth ${auth}: ${error instanceof Error ? error.message : error}`);
  }
}

/**
 * The options of `pubsubServer` that the pub/sub flags set.
 *
 * @param values The values of {@linkcode PUBSUB_FLAGS}.
 * @returns `authenticate` (with a login flag) and the protocol's options in `pubsub`.
 * @throws {FlagError} As {@linkcode natsAuthorization}.
 */
export function pubsubOptions(values: FlagValues<typeof PUBSUB_FLAGS>): PubSubFlagOptions {
  const auth = natsAuthorization(values);
  const servers = values.backplane;
  return {
    ...(auth === undefined ? {} : { authenticate: natsAuthenticator(auth) }),
    pubsub: {
      maxPayload: values["max-payload"],
      ...(servers.length === 0 ? {} : { backplane: { servers } }),
    },
  };
}
