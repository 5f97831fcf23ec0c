/**
 * Running a child in a pseudo-terminal, for a run started from a terminal:
 * the child sees a terminal on stdin, stdout and stderr (colours, progress
 * bars, prompts), gets the window size and its changes, and receives what
 * is typed (stint's terminal is in raw mode meanwhile, restored on every
 * way out). Everything the pty shows is copied to the terminal and the log.
 *
 * The child leads its own session (setsid and a pty of our own on Linux,
 * node-pty's forkpty elsewhere), like a piped run's child, so its pid is its
 * process group and everything that holds for a piped run's group
 * (forwarding, SIGKILL escalation, reaping, `lost`) holds here. Keys the pty turns into signals (Ctrl-C, Ctrl-\) reach the
 * task's group through the pty's line discipline and are recorded as
 * forwarded; Ctrl-Z stops the task and stint together, as job control does.
 * @module
 */
import type { LogSink, Pump, TerminalSink } from "./capture.ts";
import type { ChildExit, Spawned } from "./spawn.ts";
import type { SignalForwarder } from "./forwarder.ts";
import {
  clearOutputProcessing,
  copyMode,
  inForeground,
  type Libc,
  loadLibc,
  loadNodePty,
  openPty,
  setWindowSize,
  type SignalKeys,
  signalKeys,
} from "./pty_native.ts";
import { signalName } from "./signals.ts";

/** What to run in the pty and where its output goes. */
export interface PtyOptions {
  program: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  log: LogSink;
  terminal?: TerminalSink;
  forwarder: SignalForwarder;
}

const POLLIN = 0x1;
const POLLERR = 0x8;
const POLLHUP = 0x10;
const POLL_MS = 100;
const DEFAULT_KEYS: SignalKeys = {
  isig: true,
  intr: 3,
  quit: 0x1c,
  susp: 0x1a,
};

/**
 * Start `options.program` in a pseudo-terminal. Returns why not instead
 * when no pty can be had here (the caller runs it through pipes).
 */
export async function spawnInPty(
  options: PtyOptions,
): Promise<{ spawned: Spawned } | { unavailable: string }> {
  let libc: Libc;
  try {
    libc = loadLibc();
  } catch (err) {
    return { unavailable: (err as Error).message };
  }
  // A background job may not read the terminal or change its mode.
  if (!inForeground(libc, 0)) {
    return { unavailable: "stint is not in the terminal's foreground" };
  }
  const useNodePty = Deno.build.os !== "linux" ||
    Deno.env.get("STINT_PTY") === "node-pty";
  let child: { fd: number; pid: number; status: Promise<ChildExit> };
  try {
    child = useNodePty ? await forkNodePty(options) : spawnOnPty(libc, options);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw err; // a spawn error: the caller's
    return { unavailable: (err as Error).message };
  }
  const output = readLoop(libc, child.fd, (chunk) => {
    options.terminal?.write(chunk);
    options.log.write(chunk);
  });
  const input = new TerminalInput(libc, child.fd, options.forwarder);
  input.start();
  // Once the task is gone, what is typed is for the shell: stop reading it
  // at once (the mode is restored once the output is drained, so the
  // terminal still shows the pty's bytes unchanged).
  child.status.then(() => input.stopReading());
  return {
    spawned: {
      pid: child.pid,
      status: child.status,
      pumps: [output],
      close() {
        input.stop();
        libc.close(child.fd);
      },
    },
  };
}

/**
 * The child started by Deno on a pty of our own: a new session (setsid)
 * whose leader, a /bin/sh, opens the pty's slave as its stdin, stdout and
 * stderr — a session leader without a controlling terminal that opens a
 * terminal gets it as its controlling terminal, with its own group in the
 * foreground — and execs the program (same pid). The pty starts in the
 * mode and size of stint's terminal.
 */
function spawnOnPty(
  libc: Libc,
  options: PtyOptions,
): { fd: number; pid: number; status: Promise<ChildExit> } {
  const { master, slave } = openPty(libc);
  try {
    copyMode(libc, 0, master);
    setWindowSize(libc, master, consoleSize());
    const child = new Deno.Command("/bin/sh", {
      args: [
        "-c",
        'exec 0<>"$0" 1>&0 2>&0 && exec "$@"',
        slave,
        options.program,
        ...options.args,
      ],
      cwd: options.cwd,
      env: options.env,
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "null",
      detached: true,
    }).spawn();
    return {
      fd: master,
      pid: child.pid,
      status: child.status.then((s) => ({ code: s.code, signal: s.signal })),
    };
  } catch (err) {
    libc.close(master);
    throw err;
  }
}

/** The child started by node-pty's forkpty (macOS, or `STINT_PTY=node-pty`). */
async function forkNodePty(
  options: PtyOptions,
): Promise<{ fd: number; pid: number; status: Promise<ChildExit> }> {
  const { binding, helperPath } = await loadNodePty();
  const size = consoleSize();
  let exited!: (e: ChildExit) => void;
  const status = new Promise<ChildExit>((resolve) => exited = resolve);
  const term = binding.fork(
    options.program,
    options.args,
    Object.entries(options.env).map(([k, v]) => `${k}=${v}`),
    options.cwd,
    size.columns,
    size.rows,
    -1,
    -1,
    true,
    helperPath,
    (code, signal) =>
      exited(
        signal
          ? { code: 128 + signal, signal: signalName(signal) }
          : { code, signal: null },
      ),
  );
  return { fd: term.fd, pid: term.pid, status };
}

/**
 * stint's terminal while the task runs: raw mode, typed bytes to the pty
 * (signal keys recorded), window size changes passed on, Ctrl-Z suspending
 * stint with its task, and the mode restored whenever stint lets go of the
 * terminal (stop, suspend, exit).
 */
class TerminalInput {
  #libc: Libc;
  #master: number;
  #forwarder: SignalForwarder;
  #stopped = false;
  #reading = true;
  #raw = false;
  #pending: Uint8Array[] = [];
  #writing = false;
  #listeners: [Deno.Signal, () => void][] = [];
  #restoreOnExit = () => this.#setRaw(false);

  constructor(libc: Libc, master: number, forwarder: SignalForwarder) {
    this.#libc = libc;
    this.#master = master;
    this.#forwarder = forwarder;
  }

  start(): void {
    this.#setRaw(true);
    globalThis.addEventListener("unload", this.#restoreOnExit);
    this.#listen("SIGWINCH", () => this.#resize());
    this.#listen("SIGCONT", () => {
      // Back in the foreground after Ctrl-Z (fg): take the terminal again.
      if (this.#stopped || !inForeground(this.#libc, 0)) return;
      this.#setRaw(true);
      this.#resize();
    });
    const reader = readLoop(
      this.#libc,
      0,
      (bytes) => this.#typed(bytes),
      {
        // Reading the terminal from the background would stop stint (SIGTTIN).
        canRead: () => !this.#stopped && inForeground(this.#libc, 0),
        stop: () => this.#stopped || !this.#reading,
      },
    );
    reader.done.catch(() => {});
  }

  /** Stop passing typed bytes on (they stay queued for whoever reads next). */
  stopReading(): void {
    this.#reading = false;
  }

  stop(): void {
    this.#stopped = true;
    for (const [sig, fn] of this.#listeners) {
      try {
        Deno.removeSignalListener(sig, fn);
      } catch {
        // already gone
      }
    }
    this.#listeners = [];
    this.#setRaw(false);
    globalThis.removeEventListener("unload", this.#restoreOnExit);
  }

  #listen(sig: Deno.Signal, fn: () => void): void {
    try {
      Deno.addSignalListener(sig, fn);
      this.#listeners.push([sig, fn]);
    } catch {
      // not on this platform
    }
  }

  #setRaw(on: boolean): void {
    if (this.#raw === on) return;
    try {
      Deno.stdin.setRaw(on);
      if (on) clearOutputProcessing(this.#libc, 0);
      this.#raw = on;
    } catch {
      // not a terminal any more (hung up): nothing to restore
    }
  }

  #resize(): void {
    setWindowSize(this.#libc, this.#master, consoleSize());
  }

  /** Bytes typed: pass them on, noting the keys the pty makes signals of. */
  #typed(bytes: Uint8Array): void {
    const keys = signalKeys(this.#libc, this.#master) ?? DEFAULT_KEYS;
    let from = 0;
    for (let i = 0; keys.isig && i < bytes.length; i++) {
      const b = bytes[i];
      if (b === 0) continue; // a disabled key reads as 0
      if (b === keys.intr || b === keys.quit) {
        this.#send(bytes.subarray(from, i + 1));
        from = i + 1;
        this.#forwarder.delivered(b === keys.intr ? "SIGINT" : "SIGQUIT");
      } else if (b === keys.susp) {
        this.#send(bytes.subarray(from, i));
        from = i + 1;
        this.#suspend();
      }
    }
    this.#send(bytes.subarray(from));
  }

  /** Ctrl-Z: give the terminal back, then stop the task's group and stint. */
  #suspend(): void {
    this.#setRaw(false);
    try {
      // The forwarder's job control stops the group, then stint itself.
      Deno.kill(Deno.pid, "SIGTSTP");
    } catch {
      this.#setRaw(true);
    }
  }

  #send(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#pending.push(bytes.slice());
    if (!this.#writing) this.#flush();
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    const libc = this.#libc;
    while (this.#pending.length > 0 && !this.#stopped) {
      const chunk = this.#pending[0];
      const n = Number(libc.write(this.#master, chunk, BigInt(chunk.length)));
      if (n >= chunk.length) this.#pending.shift();
      else if (n > 0) this.#pending[0] = chunk.subarray(n);
      else await new Promise((r) => setTimeout(r, 10)); // the pty is full
    }
    this.#writing = false;
  }
}

/**
 * Copy what arrives on `fd` to `onData` until end of file (EIO on a pty
 * master once every holder of the slave closed it), `stop()` or `cancel`.
 */
function readLoop(
  libc: Libc,
  fd: number,
  onData: (bytes: Uint8Array) => void,
  hooks: { canRead?: () => boolean; stop?: () => boolean } = {},
): Pump {
  let eof = false;
  let cancelled = false;
  const pollfd = new Uint8Array(8);
  const view = new DataView(pollfd.buffer);
  const buf = new Uint8Array(65536);
  const done = (async () => {
    while (!cancelled && !hooks.stop?.()) {
      view.setInt32(0, fd, true);
      view.setInt16(4, POLLIN, true);
      view.setInt16(6, 0, true);
      const ready = await libc.poll(pollfd, 1n, POLL_MS);
      if (cancelled || hooks.stop?.()) break;
      if (ready <= 0) continue;
      const revents = view.getInt16(6, true);
      if (hooks.canRead && !hooks.canRead()) {
        await new Promise((r) => setTimeout(r, POLL_MS));
        continue;
      }
      const n = Number(libc.read(fd, buf, BigInt(buf.length)));
      if (n > 0) {
        onData(buf.slice(0, n));
      } else if (n === 0 || (revents & (POLLHUP | POLLERR)) !== 0) {
        eof = true;
        break;
      }
    }
  })();
  return {
    done,
    finished: () => eof,
    cancel: async () => {
      cancelled = true;
      await done;
    },
  };
}

function consoleSize(): { columns: number; rows: number } {
  try {
    const { columns, rows } = Deno.consoleSize();
    if (columns > 0 && rows > 0) return { columns, rows };
  } catch {
    // not a terminal
  }
  return { columns: 80, rows: 24 };
}
