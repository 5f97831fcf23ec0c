/**
 * Forwarding SIGINT/SIGTERM/SIGHUP/SIGQUIT from stint to a run's process
 * group, and job control (Ctrl-Z / fg) for a foreground run. The handlers
 * only record what arrived and pass it on; recording the run's end happens
 * on the main path.
 * @module
 */
import { FORWARDED_SIGNALS } from "./signals.ts";
import { signalGroup } from "./process_group.ts";

/**
 * Installed before the child is spawned (a signal in between is remembered
 * and forwarded as soon as the group exists) and disposed after the run is
 * recorded. A second signal escalates to SIGKILL of the whole group.
 */
export class SignalForwarder {
  #received: Deno.Signal | null = null;
  #count = 0;
  #pgid: number | null = null;
  #listeners: [Deno.Signal, () => void][] = [];
  #waiters: (() => void)[] = [];

  /** The first signal stint received, or null. */
  get received(): Deno.Signal | null {
    return this.#received;
  }

  /** How many forwarded signals arrived. */
  get count(): number {
    return this.#count;
  }

  /**
   * Start listening for the forwarded signals. With `jobControl`, Ctrl-Z
   * (SIGTSTP) stops the run's group and then stint itself, and SIGCONT (fg,
   * bg) continues the group: the task is in a session of its own, so the
   * terminal's job control would not reach it otherwise.
   */
  install(options?: { jobControl?: boolean }): this {
    for (const sig of FORWARDED_SIGNALS) {
      this.#listen(sig, () => this.#handle(sig));
    }
    if (options?.jobControl && Deno.build.os !== "windows") {
      this.#listen("SIGTSTP", () => {
        if (this.#pgid !== null) signalGroup(this.#pgid, "SIGSTOP");
        try {
          Deno.kill(Deno.pid, "SIGSTOP");
        } catch {
          // cannot stop ourselves; the group stays stopped until SIGCONT
        }
      });
      this.#listen("SIGCONT", () => {
        if (this.#pgid !== null) signalGroup(this.#pgid, "SIGCONT");
      });
    }
    return this;
  }

  #listen(sig: Deno.Signal, fn: () => void): void {
    try {
      Deno.addSignalListener(sig, fn);
      this.#listeners.push([sig, fn]);
    } catch {
      // Some platforms cannot listen for every signal; handle the rest.
    }
  }

  /** Forward to group `pgid` from now on (and at once if a signal already arrived). */
  attach(pgid: number): void {
    this.#pgid = pgid;
    if (this.#received) signalGroup(pgid, this.#received);
  }

  /** Stop forwarding (the group is gone); later signals are only recorded. */
  detach(): void {
    this.#pgid = null;
  }

  /** Resolves when the first forwarded signal arrives (at once if one has). */
  signalled(): Promise<void> {
    if (this.#received) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Remove the listeners; the default signal actions apply again. */
  dispose(): void {
    for (const [sig, fn] of this.#listeners) {
      try {
        Deno.removeSignalListener(sig, fn);
      } catch {
        // already removed
      }
    }
    this.#listeners = [];
    this.#pgid = null;
  }

  /**
   * A signal the task's own terminal already sent to its group (Ctrl-C
   * typed into its pseudo-terminal): recorded as if stint had forwarded
   * it, and a second one kills the group, as for a forwarded signal.
   */
  delivered(sig: Deno.Signal): void {
    this.#note(sig);
    if (this.#pgid !== null && this.#count > 1) {
      signalGroup(this.#pgid, "SIGKILL");
    }
  }

  #handle(sig: Deno.Signal): void {
    this.#note(sig);
    if (this.#pgid !== null) {
      signalGroup(this.#pgid, this.#count === 1 ? sig : "SIGKILL");
    }
  }

  #note(sig: Deno.Signal): void {
    this.#count++;
    if (this.#received === null) {
      this.#received = sig;
      for (const w of this.#waiters.splice(0)) w();
    }
  }
}
