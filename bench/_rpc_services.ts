/**
 * The services of `rpc_load.ts`'s RPC server: type 1 echoes its body. A handler module (its
 * default export is the `Services`), so that workers can load it.
 *
 * @module
 */

import { Services } from "../protocols/rpc/services.ts";

/** The echo service's message type. */
export const ECHO = 1;

const services: Services = new Services().service(ECHO, ({ body }) => body);

export default services;
