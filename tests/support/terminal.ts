/**
 * An interactive terminal for tests: runs a command in a pseudo-terminal through
 * node-pty's own API (the "user's terminal"), so stint sees a TTY on
 * stdin, stdout and stderr, and the test can type into it and read what
 * the terminal shows.
 * @module
 */

/** The subset of node-pty's IPty the tests use. */
interface IPty {
  pid: number;
  write(data: string): void;
  resize(cols: number, rows: number): void;
  kill(signal?: string): void;
  onData(cb: (d: string) => void): { dispose(): void };
  onExit(cb: (e: { exitCode: number; signal?: number }) => void): {
    dispose(): void;
  };
}

interface NodePty {
  spawn(
    file: string,
    args: string[],
    opts: {
      cols?: number;
      rows?: number;
      cwd?: string;
      env?: Record<string, string>;
      name?: string;
    },
  ): IPty;
}

/** A command running in a test terminal. */
export interface TestTerminal {
  /** The pid of the command (the terminal's session leader). */
  pid: number;
  /** Everything the terminal showed so far. */
  output(): string;
  /** Type into the terminal. */
  type(text: string): void;
  /** Change the window size (the command gets SIGWINCH). */
  resize(cols: number, rows: number): void;
  /** Wait until the output matches `re`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves when the command exits. */
  exited: Promise<{ code: number; signal: number }>;
}

let loaded: NodePty | null = null;

/** Whether node-pty loads here (tests that need a terminal skip otherwise). */
export async function ptyAvailable(): Promise<boolean> {
  try {
    await nodePty();
    return true;
  } catch {
    return false;
  }
}

async function nodePty(): Promise<NodePty> {
  if (!loaded) {
    const mod = await import("@lydell/node-pty");
    loaded = (mod.default ?? mod) as unknown as NodePty;
  }
  return loaded;
}

/** Run `file args` in a new terminal of `cols` x `rows`. */
export async function openTerminal(
  file: string,
  args: string[],
  options: {
    cwd?: string;
    env?: Record<string, string>;
    cols?: number;
    rows?: number;
  } = {},
): Promise<TestTerminal> {
  const pty = await nodePty();
  const term = pty.spawn(file, args, {
    name: "xterm-256color",
    cols: options.cols ?? 100,
    rows: options.rows ?? 30,
    cwd: options.cwd,
    env: options.env,
  });
  let out = "";
  const waiters: (() => void)[] = [];
  term.onData((d) => {
    out += d;
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<{ code: number; signal: number }>((resolve) => {
    term.onExit((e) => {
      // Let the last output arrive before the test reads it.
      setTimeout(
        () => resolve({ code: e.exitCode, signal: e.signal ?? 0 }),
        100,
      );
    });
  });
  return {
    pid: term.pid,
    output: () => out,
    type: (text) => term.write(text),
    resize: (cols, rows) => term.resize(cols, rows),
    exited,
    async waitFor(re, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!re.test(out)) {
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(
            `Timed out waiting for ${re} in the terminal; it showed:\n${out}`,
          );
        }
        await new Promise<void>((r) => {
          const t = setTimeout(r, Math.min(left, 200));
          waiters.push(() => {
            clearTimeout(t);
            r();
          });
        });
      }
      return out;
    },
  };
}
