/**
 * Signal names and numbers: parsing what a user types (`TERM`, `SIGTERM`,
 * `15`) and mapping a signal death to the shell's 128+n exit code.
 * @module
 */
import { UsageError } from "../errors.ts";

const LINUX: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPWR: 30,
  SIGSYS: 31,
};

const BSD: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGEMT: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGBUS: 10,
  SIGSEGV: 11,
  SIGSYS: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGURG: 16,
  SIGSTOP: 17,
  SIGTSTP: 18,
  SIGCONT: 19,
  SIGCHLD: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGIO: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGINFO: 29,
  SIGUSR1: 30,
  SIGUSR2: 31,
};

function table(): Record<string, number> {
  return Deno.build.os === "linux" || Deno.build.os === "android" ? LINUX : BSD;
}

/** The signals stint forwards to a run's process group. */
export const FORWARDED_SIGNALS: readonly Deno.Signal[] = [
  "SIGINT",
  "SIGTERM",
  "SIGHUP",
  "SIGQUIT",
];

/** The number of a signal on this platform (0 when unknown). */
export function signalNumber(name: string): number {
  return table()[name] ?? 0;
}

/** The exit code a shell reports for a process killed by `signal`: 128 + n. */
export function signalExitCode(signal: string): number {
  return 128 + signalNumber(signal);
}

/**
 * Parse a signal as a user writes it: `TERM`, `sigterm`, `SIGTERM` or `15`.
 * Throws a UsageError naming the flag for anything else.
 */
export function parseSignal(raw: string, flag = "--signal"): Deno.Signal {
  const t = table();
  const s = raw.trim().toUpperCase();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    const name = Object.keys(t).find((k) => t[k] === n);
    if (name) return name as Deno.Signal;
  } else {
    const name = s.startsWith("SIG") ? s : `SIG${s}`;
    if (name in t) return name as Deno.Signal;
  }
  throw new UsageError(
    `${flag} must be a signal such as TERM, INT, HUP, KILL or 15, not "${raw}"`,
  );
}

/** The name of signal number `n` on this platform, or null when unknown. */
export function signalName(n: number): Deno.Signal | null {
  const t = table();
  const name = Object.keys(t).find((k) => t[k] === n);
  return (name as Deno.Signal | undefined) ?? null;
}
