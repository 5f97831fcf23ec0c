/**
 * The command-table entry of `stint ui` (its help text lives in
 * src/cli/ui.ts, beside the server options it describes).
 * @module
 */
import type { Command } from "./types.ts";

/** `stint ui`. */
export const UI: Command = {
  name: "ui",
  summary: "A local dashboard of runs, logs, trends and hosts in the browser",
  usage: ["ui [--port N] [--host H] [--no-open]"],
  moduleHelp: true,
  flags: [
    {
      name: "port",
      short: "p",
      value: "<n>",
      help: "The port (default 0: any free port)",
    },
    {
      name: "host",
      value: "<h>",
      help: "The address to listen on (default 127.0.0.1)",
    },
    { name: "no-open", help: "Do not open a browser" },
  ],
};
