/**
 * The runner: executing tasks and commands with log capture, scopes for
 * children, signal forwarding, and background supervision.
 * @module
 */
export * from "./execute.ts";
export * from "./forwarder.ts";
export * from "./background.ts";
export * from "./follow.ts";
export * from "./signals.ts";
export * from "./process_group.ts";
export * from "./env.ts";
export * from "./rerun.ts";
