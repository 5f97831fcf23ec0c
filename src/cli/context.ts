/**
 * What every command receives: the resolved store path and terminal facts.
 * @module
 */

/** The environment a command runs in. */
export interface Context {
  /** The store file (from --db, STINT_DB or the XDG state dir). */
  dbPath: string;
  /** `--quiet` or `STINT_QUIET=1`: no progress or sync chatter on stderr. */
  quiet: boolean;
  /** Whether stdout is a terminal. */
  stdoutIsTty: boolean;
  /** Whether stderr is a terminal. */
  stderrIsTty: boolean;
  /** Whether to colour stdout (a TTY and no NO_COLOR). */
  color: boolean;
  /** `--verbose` / `STINT_VERBOSE=1`: also report routine sync successes. */
  verbose?: boolean;
}

/** A command module: a `run` function returning the exit code. */
export interface CommandModule {
  /**
   * Help text of its own, shown by `--help` when its entry in the command
   * table (src/cli/commands/) says `moduleHelp`; otherwise help is rendered
   * from the table.
   */
  help?: string;
  /** Run the command with its arguments (global flags already removed). */
  run(args: string[], ctx: Context): Promise<number> | number;
}
