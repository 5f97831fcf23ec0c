/**
 * Forwarding SIGINT/SIGTERM/SIGHUP/SIGQUIT from stint to a run's process
 * group. The handlers only record what arrived and pass it on; recording the
 * run's end happens on the main path.
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

  /** Start listening for the forwarded signals. */
  install(): this {
    for (const sig of FORWARDED_SIGNALS) {
      const fn = () => this.#handle(sig);
      try {
        Deno.addSignalListener(sig, fn);
        this.#listeners.push([sig, fn]);
      } catch {
        // Some platforms cannot listen for every signal; forward the rest.
      }
    }
    return this;
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

  #handle(sig: Deno.Signal): void {
    this.#count++;
    if (this.#received === null) {
      this.#received = sig;
      for (const w of this.#waiters.splice(0)) w();
    }
    if (this.#pgid !== null) {
      signalGroup(this.#pgid, this.#count === 1 ? sig : "SIGKILL");
    }
  }
}
