/**
 * The native parts of the pseudo-terminal path, loaded only on it. On
 * Linux a pty is opened with a few libc calls through Deno's FFI
 * (posix_openpt, unlockpt, ptsname) and the master is read and written the
 * same way (poll, read, write); the child is started by Deno itself, in a
 * new session whose controlling terminal the pty becomes (see pty.ts). On
 * other systems, or with `STINT_PTY=node-pty`, the child is started by the
 * prebuilt `pty.node` of `npm:@lydell/node-pty` (forkpty(3); a native thread
 * waits for it). Loading that binary under Deno needs Node's `process`
 * (~15-30 ms of start-up); node-pty's JavaScript wrapper would add `node:tty`
 * and `node:net` (~20 ms more), so only the binary is loaded.
 * @module
 */

/** node-pty's native module (unix). */
export interface PtyBinding {
  fork(
    file: string,
    args: string[],
    env: string[],
    cwd: string,
    cols: number,
    rows: number,
    uid: number,
    gid: number,
    utf8: boolean,
    helperPath: string,
    onExit: (code: number, signal: number) => void,
  ): { fd: number; pid: number; pty: string };
  resize(fd: number, cols: number, rows: number): void;
}

const LIBC_SYMBOLS = {
  poll: {
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  tcgetattr: { parameters: ["i32", "buffer"], result: "i32" },
  tcsetattr: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  tcgetpgrp: { parameters: ["i32"], result: "i32" },
  getpgrp: { parameters: [], result: "i32" },
  posix_openpt: { parameters: ["i32"], result: "i32" },
  unlockpt: { parameters: ["i32"], result: "i32" },
  ptsname: { parameters: ["i32"], result: "pointer" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
} as const;

/** The libc calls the pty path uses. */
export type Libc = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"];

/** The special characters of a terminal whose line discipline makes signals. */
export interface SignalKeys {
  /** ISIG is on: the keys below send signals to the foreground group. */
  isig: boolean;
  /** The interrupt key (Ctrl-C), 0 when disabled. */
  intr: number;
  /** The quit key (Ctrl-\), 0 when disabled. */
  quit: number;
  /** The suspend key (Ctrl-Z), 0 when disabled. */
  susp: number;
}

/** node-pty's binary, loaded once. */
export interface NodePty {
  binding: PtyBinding;
  /** Path of macOS's spawn helper (unused on Linux). */
  helperPath: string;
}

let libc: Libc | null = null;
let nodePty: Promise<NodePty> | null = null;

/** The libc calls (once); throws with a one-line reason. */
export function loadLibc(): Libc {
  libc ??= openLibc();
  return libc;
}

/** Load node-pty's binary (once); rejects with a one-line reason. */
export function loadNodePty(): Promise<NodePty> {
  nodePty ??= Promise.resolve().then(loadBinding);
  return nodePty;
}

function loadBinding(): NodePty {
  const os = Deno.build.os === "darwin" ? "darwin" : "linux";
  const arch = Deno.build.arch === "aarch64" ? "arm64" : "x64";
  const pkg = `node-pty-${os}-${arch}`;
  // A computed specifier: the pty stays off every other command's module graph.
  const spec = ["@lydell", "node-pty"].join("/");
  let main: URL;
  try {
    main = new URL(import.meta.resolve(spec));
  } catch (err) {
    throw new Error(
      `npm:@lydell/node-pty is not installed (${firstLine(err)})`,
    );
  }
  const version = main.pathname.match(/\/(\d+\.\d+\.\d+[^/]*)\/index\.js$/)
    ?.[1];
  // node_modules/.deno puts the platform package beside the main one; the
  // global npm cache keeps one directory per version.
  const candidates = [
    new URL(`../${pkg}/`, main),
    ...(version ? [new URL(`../../${pkg}/${version}/`, main)] : []),
  ];
  const dir = candidates.find((d) => exists(new URL("pty.node", d)));
  if (!dir) {
    throw new Error(`the native part of node-pty (@lydell/${pkg}) is missing`);
  }
  const module = { exports: {} as Record<string, unknown> };
  // deno-lint-ignore no-explicit-any
  const proc = (globalThis as any).process;
  proc.dlopen(module, new URL("pty.node", dir).pathname);
  return {
    binding: module.exports as unknown as PtyBinding,
    helperPath: os === "darwin"
      ? new URL("spawn-helper", dir).pathname
      : "spawn-helper-unused",
  };
}

/**
 * Open a new pty (Linux): its master (close-on-exec, so no child inherits
 * it) and the path of its slave.
 */
export function openPty(libc: Libc): { master: number; slave: string } {
  const O_RDWR = 2, O_NOCTTY = 0o400, O_CLOEXEC = 0o2000000;
  const master = libc.posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) throw new Error("posix_openpt failed");
  const name = libc.unlockpt(master) === 0 ? libc.ptsname(master) : null;
  if (name === null) {
    libc.close(master);
    throw new Error("the new pty has no slave");
  }
  return { master, slave: Deno.UnsafePointerView.getCString(name) };
}

/** Set the window size of the terminal on `fd` (the child gets SIGWINCH). */
export function setWindowSize(
  libc: Libc,
  fd: number,
  size: { columns: number; rows: number },
): void {
  const ws = new Uint16Array([size.rows, size.columns, 0, 0]);
  const TIOCSWINSZ = Deno.build.os === "darwin" ? 0x80087467n : 0x5414n;
  libc.ioctl(fd, TIOCSWINSZ, new Uint8Array(ws.buffer));
}

/** Give the terminal on `to` the mode of the one on `from` (as script(1) does). */
export function copyMode(libc: Libc, from: number, to: number): void {
  const buf = new Uint8Array(128);
  if (libc.tcgetattr(from, buf) === 0) libc.tcsetattr(to, 0, /* TCSANOW */ buf);
}

function openLibc(): Libc {
  const names = Deno.build.os === "darwin" ? ["libSystem.B.dylib"] : [
    "libc.so.6",
    "libc.musl-x86_64.so.1",
    "libc.musl-aarch64.so.1",
    "libc.so",
  ];
  let last: unknown;
  for (const name of names) {
    try {
      return Deno.dlopen(name, LIBC_SYMBOLS).symbols;
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`libc cannot be loaded (${firstLine(last)})`);
}

/**
 * The signal keys of the terminal on `fd` (a pty master reports its
 * slave's mode), or null when it cannot be read.
 */
export function signalKeys(libc: Libc, fd: number): SignalKeys | null {
  const buf = new Uint8Array(128);
  if (libc.tcgetattr(fd, buf) !== 0) return null;
  const view = new DataView(buf.buffer);
  if (Deno.build.os === "darwin") {
    // tcflag_t is 64 bits; c_cc starts after the four flags; ISIG = 0x80.
    const lflag = view.getUint32(24, true);
    return {
      isig: (lflag & 0x80) !== 0,
      intr: buf[32 + 8],
      quit: buf[32 + 9],
      susp: buf[32 + 10],
    };
  }
  // Linux: four 32-bit flags, c_line, then c_cc; ISIG = 1.
  const lflag = view.getUint32(12, true);
  return {
    isig: (lflag & 1) !== 0,
    intr: buf[17 + 0],
    quit: buf[17 + 1],
    susp: buf[17 + 10],
  };
}

/**
 * Turn off output processing (OPOST) on the terminal on `fd`, which
 * `Deno.stdin.setRaw` leaves on: the pty already turned the task's `\n`
 * into `\r\n` (or not, when the task asked for that), so the terminal must
 * pass its bytes on unchanged, as script(1) and tmux do. Restoring the mode
 * saved by `setRaw` turns it back on.
 */
export function clearOutputProcessing(libc: Libc, fd: number): void {
  const buf = new Uint8Array(128);
  if (libc.tcgetattr(fd, buf) !== 0) return;
  const at = Deno.build.os === "darwin" ? 8 : 4;
  buf[at] &= ~1; // OPOST is bit 0 of c_oflag on both
  libc.tcsetattr(fd, 1, /* TCSADRAIN */ buf);
}

/** Whether this process is in the foreground group of its terminal on `fd`. */
export function inForeground(libc: Libc, fd: number): boolean {
  const fg = libc.tcgetpgrp(fd);
  return fg !== -1 && fg === libc.getpgrp();
}

function exists(url: URL): boolean {
  try {
    return Deno.statSync(url).isFile;
  } catch {
    return false;
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0];
}
