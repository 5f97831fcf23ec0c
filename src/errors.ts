/**
 * Error types that the CLI turns into one line on stderr and an exit code.
 * Everything else that escapes is an internal error (one line plus a hint).
 * @module
 */

/** A user-facing failure: printed as one line, exits with `exitCode`. */
export class StintError extends Error {
  /** The process exit code this error maps to. */
  readonly exitCode: number;
  /** Build an error with a sentence-case message and an exit code (default 1). */
  constructor(
    message: string,
    options?: { exitCode?: number; cause?: unknown },
  ) {
    super(message, { cause: options?.cause });
    this.name = "StintError";
    this.exitCode = options?.exitCode ?? 1;
  }
}

/** A mistake in how stint was called: exits 2. */
export class UsageError extends StintError {
  /** Build a usage error; always exits 2. */
  constructor(message: string) {
    super(message, { exitCode: 2 });
    this.name = "UsageError";
  }
}

/** An id prefix that matches more than one run: exits 1, names the candidates. */
export class AmbiguousIdError extends StintError {
  /** Build one; the message names the candidates and asks for more characters. */
  constructor(message: string) {
    super(message, { exitCode: 1 });
    this.name = "AmbiguousIdError";
  }
}

/** A key, run or record that does not exist: exits 1. */
export class NotFoundError extends StintError {
  /** Build a not-found error; always exits 1. */
  constructor(message: string) {
    super(message, { exitCode: 1 });
    this.name = "NotFoundError";
  }
}

/**
 * The store path names something that is not stint's own (a database of
 * another program, a link, a directory, another user's file): refused with
 * one line before anything is written or run (spec section 3,
 * "Ownership"). A store that is stint's but cannot take a write just now
 * (locked, full, read-only, corrupt) is a fault, never this: a run goes
 * on through a fault.
 */
export class NotOursError extends StintError {
  /** Build a refusal (exit 1). */
  constructor(message: string) {
    super(message, { exitCode: 1 });
    this.name = "NotOursError";
  }
}
