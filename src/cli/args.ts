/**
 * Flag parsing over `node:util` parseArgs, with one-line usage errors.
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "../errors.ts";

/** The option map accepted by {@linkcode parseFlags}. */
export type FlagSpec = NonNullable<ParseArgsConfig["options"]>;

/** The parsed values and positionals. */
export interface Parsed {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
  /** Everything after a literal `--` (not parsed; also in `positionals`). */
  rest: string[];
}

/**
 * Parse `args` strictly: unknown flags and missing values become a
 * UsageError naming the command. Arguments after `--` are positionals (and
 * are also returned in `rest`).
 */
export function parseFlags(
  args: string[],
  spec: FlagSpec,
  options: { command: string; min?: number; max?: number },
): Parsed {
  const dash = args.indexOf("--");
  const head = dash === -1 ? args : args.slice(0, dash);
  const rest = dash === -1 ? [] : args.slice(dash + 1);
  let parsed;
  try {
    parsed = parseArgs({
      args: head,
      options: spec,
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(
      `${describeParseError(err)} (see stint ${options.command} --help)`,
    );
  }
  // After `--` everything is a positional (a ref or key that starts with
  // a dash); dropping it silently would widen the command to "everything".
  const positionals = [...parsed.positionals, ...rest];
  if (options.min !== undefined && positionals.length < options.min) {
    throw new UsageError(
      `stint ${options.command} needs ${
        options.min === 1 ? "an argument" : `${options.min} arguments`
      } (see stint ${options.command} --help)`,
    );
  }
  if (options.max !== undefined && positionals.length > options.max) {
    throw new UsageError(
      `Unexpected argument "${
        positionals[options.max]
      }" for stint ${options.command} (see stint ${options.command} --help)`,
    );
  }
  return { values: parsed.values as Parsed["values"], positionals, rest };
}

function describeParseError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const msg = String(e.message ?? err);
  const option = msg.match(/'(-{1,2}[^'\s]+)/)?.[1]?.replace(
    /^(--?[^ ]+?)(?: <value>)?$/,
    "$1",
  );
  switch (e.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `Unknown option ${option ?? msg}`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (/argument is ambiguous/.test(msg)) {
        const long = msg.match(/use '(--[^=']+)=/)?.[1] ?? option ?? "";
        return `Option ${
          option ?? ""
        } needs a value; for one that starts with a dash write ${long}=<value>`;
      }
      return /argument missing/.test(msg)
        ? `Option ${option ?? ""} needs a value`
        : `Option ${option ?? ""} does not take a value`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `Unexpected argument`;
    default:
      return msg.split("\n")[0];
  }
}

/** A string flag value or undefined. */
export function stringFlag(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === "string" ? v : undefined;
}

/** A boolean flag value. */
export function boolFlag(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}

/** Parse a positive integer flag or throw a UsageError naming it. */
export function intFlag(
  p: Parsed,
  name: string,
  options?: { min?: number; max?: number },
): number | undefined {
  const raw = stringFlag(p, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  const min = options?.min ?? 0;
  if (
    !/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min ||
    (options?.max !== undefined && n > options.max)
  ) {
    throw new UsageError(
      `--${name} must be a whole number${
        options?.max !== undefined
          ? ` from ${min} to ${options.max}`
          : ` of at least ${min}`
      }, not "${raw}"`,
    );
  }
  return n;
}

// Durations are checked in the store, so the typed API accepts and refuses
// the same ones; re-exported for the commands that parse them from flags.
export { parseDuration } from "../store/durations.ts";
