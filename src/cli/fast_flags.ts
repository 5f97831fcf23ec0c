/**
 * A small strict flag parser for the commands on hot start-up paths
 * (`run`, `exec`, `vars`): loading `node:util` costs several ms there, and
 * these commands take only a few flags. Other commands use args.ts.
 * @module
 */
import { UsageError } from "../errors.ts";

/** The flags {@linkcode parseFastFlags} accepts, by long name. */
export type FastFlagSpec = Record<
  string,
  { type: "boolean" | "string"; short?: string }
>;

/** Parsed flags: values by long name, positionals, and everything after `--`. */
export interface FastFlags {
  values: Record<string, string | boolean>;
  positionals: string[];
  /** Everything after the first `--` (never parsed). */
  rest: string[];
  /** Whether a literal `--` was given. */
  dashDash: boolean;
}

/** How to word errors for one command. */
export interface FastFlagOptions {
  /** The command, e.g. `run` or `vars get` (named in every error). */
  command: string;
  /** Extra advice for an unknown option, e.g. where the task's options go. */
  unknownHint?: (option: string) => string;
}

/**
 * Parse `args` strictly against `spec`: unknown options, a value given to a
 * boolean, and a missing value are one-line UsageErrors naming the option.
 * A lone `-` is a positional (stdin, by convention).
 */
export function parseFastFlags(
  args: string[],
  spec: FastFlagSpec,
  options: FastFlagOptions,
): FastFlags {
  const see = `(see stint ${options.command} --help)`;
  const values: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  const short = new Map<string, string>();
  for (const [name, def] of Object.entries(spec)) {
    if (def.short) short.set(def.short, name);
  }
  const dash = args.indexOf("--");
  const head = dash === -1 ? args : args.slice(0, dash);
  for (let i = 0; i < head.length; i++) {
    const a = head[i];
    if (!a.startsWith("-") || a === "-") {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const raw = eq === -1 ? a : a.slice(0, eq);
    const long = raw.startsWith("--");
    const name = long ? raw.slice(2) : short.get(raw.slice(1));
    const def = name === undefined ? undefined : spec[name];
    if (name === undefined || !def || (!long && eq !== -1)) {
      const hint = options.unknownHint?.(raw);
      throw new UsageError(
        `Unknown option ${raw}${hint ? `; ${hint}` : ""} ${see}`,
      );
    }
    if (def.type === "boolean") {
      if (eq !== -1) {
        throw new UsageError(`Option ${raw} does not take a value ${see}`);
      }
      values[name] = true;
    } else {
      const v = eq !== -1 ? a.slice(eq + 1) : head[++i];
      if (v === undefined) {
        throw new UsageError(`Option ${raw} needs a value ${see}`);
      }
      values[name] = v;
    }
  }
  return {
    values,
    positionals,
    rest: dash === -1 ? [] : args.slice(dash + 1),
    dashDash: dash !== -1,
  };
}
