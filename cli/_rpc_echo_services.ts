/**
 * The services `speedo serve rpc` runs when `--services` names none: type 1 answers the body
 * as it came, so that any RPC client can try the server.
 *
 * @module
 */

import { Services } from "../protocols/rpc/services.ts";

/** The type of the echo service. */
export const RPC_ECHO = 1;

const services: Services = new Services().service(RPC_ECHO, ({ body }) => body.slice());
export default services;
