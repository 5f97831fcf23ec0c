/**
 * The shape of the command table: one entry per command and subcommand,
 * with its flags. Help text, flag parsing (for the commands that parse
 * with node:util) and shell completions are all generated from it.
 * @module
 */

/**
 * What a value (of a flag or a positional) completes to: a fixed list, or
 * something looked up when the user presses TAB.
 */
export type Completion =
  | "tasks" // task names of the current project
  | "refs" // refs in history
  | "runs" // recent execution ids (and refs, for rerun)
  | "bg" // recent background run ids
  | "files"
  | "dirs"
  | "commands" // a program on PATH (exec)
  | readonly string[];

/** One flag of a command. */
export interface Flag {
  /** The long name, without `--`. */
  name: string;
  /** A one-letter alias, without `-`. */
  short?: string;
  /** The value's placeholder (`<n>`); absent for a boolean flag. */
  value?: string;
  /**
   * The value may only follow `=` (`--env-file=.env`); the bare flag takes
   * none, so the next word is not its value.
   */
  inline?: boolean;
  /** One line for the help. */
  help: string;
  /** What the value completes to. */
  complete?: Completion;
  /** Not shown in help or completions (kept for compatibility). */
  hidden?: boolean;
}

/** A command or subcommand. */
export interface Command {
  /** Its words after `stint`, e.g. `bg kill`. */
  name: string;
  /** One line for lists of commands. */
  summary: string;
  /** The usage lines (without `Usage: `). */
  usage: string[];
  /** Paragraphs between the usage and the options. */
  about?: string;
  flags: Flag[];
  /** What each positional completes to, in order; the last one repeats. */
  args?: Completion[];
  subcommands?: Command[];
  /** A subcommand is required (an unknown first word is a typo, not a value). */
  needsSubcommand?: boolean;
  /** Text after the options (notes, exit codes). */
  notes?: string;
  examples?: string[];
  /** Not listed in help or completions (`bg __supervise`). */
  hidden?: boolean;
  /**
   * Options go only before the first positional; from there on every word
   * is an argument (`run`: everything after the task name is the task's).
   */
  optionsBeforeArgs?: boolean;
  /**
   * `stint <name> --help` prints the command module's own `help` text (a
   * module whose text another part of the code base maintains); the entry
   * still drives completions and subcommand help.
   */
  moduleHelp?: boolean;
}
