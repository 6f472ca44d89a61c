/**
 * Addresses as the examples print them: `cli/_address.ts`, shared with the `speedo` command.
 *
 * @module
 */

export { hostPort, workerCount } from "../cli/_address.ts";
