/**
 * stint — a task runner for Deno that remembers what ran.
 * @module
 */
import { flushTrace, mark, tracing } from "./src/trace.ts";
import { main } from "./src/cli/mod.ts";

mark("cli: main module graph evaluated");

if (import.meta.main) {
  const code = await main(Deno.args);
  mark("cli: command done");
  if (tracing()) flushTrace();
  Deno.exit(code);
}
