/**
 * A TCP relay in front of an S3 endpoint, for tests: it can be taken away
 * and brought back on the same port (the endpoint "goes down"), and it
 * counts the bytes it carries each way (what a command really downloaded).
 * Bytes pass untouched, so SigV4 signatures stay valid.
 * @module
 */

/** A relay to `target` on 127.0.0.1. */
export class Relay {
  #target: { hostname: string; port: number };
  #listener: Deno.Listener | null = null;
  #conns = new Set<Deno.Conn>();
  /** The port it listens on (kept across stop/start). */
  port = 0;
  /** Bytes carried from the server to clients. */
  down = 0;
  /** Bytes carried from clients to the server. */
  up = 0;

  /** A relay to the endpoint URL `target` (not started). */
  constructor(target: string) {
    const u = new URL(target);
    this.#target = { hostname: u.hostname, port: Number(u.port || 80) };
  }

  /** The endpoint URL clients should use. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Listen (on the previous port after a stop). */
  start(): this {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: this.port });
    this.#listener = listener;
    this.port = (listener.addr as Deno.NetAddr).port;
    (async () => {
      try {
        for await (const conn of listener) this.#pipe(conn);
      } catch {
        // closed
      }
    })();
    return this;
  }

  async #pipe(conn: Deno.Conn): Promise<void> {
    this.#conns.add(conn);
    let upstream: Deno.Conn | null = null;
    try {
      upstream = await Deno.connect(this.#target);
      this.#conns.add(upstream);
      const count = (dir: "up" | "down") =>
        new TransformStream<Uint8Array, Uint8Array>({
          transform: (chunk, c) => {
            this[dir] += chunk.byteLength;
            c.enqueue(chunk);
          },
        });
      await Promise.all([
        conn.readable.pipeThrough(count("up")).pipeTo(upstream.writable),
        upstream.readable.pipeThrough(count("down")).pipeTo(conn.writable),
      ]);
    } catch {
      // a side closed
    } finally {
      for (const c of [conn, upstream]) {
        if (!c) continue;
        this.#conns.delete(c);
        try {
          c.close();
        } catch {
          // already closed
        }
      }
    }
  }

  /** Stop listening and cut every connection. */
  stop(): void {
    this.#listener?.close();
    this.#listener = null;
    for (const c of this.#conns) {
      try {
        c.close();
      } catch {
        // already closed
      }
    }
    this.#conns.clear();
  }
}

/** A server that accepts TCP connections and never answers. */
export function silentServer(): { url: string; close(): Promise<void> } {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const loop = (async () => {
    try {
      for await (const c of l) conns.push(c);
    } catch {
      // closed
    }
  })();
  return {
    url: `http://127.0.0.1:${(l.addr as Deno.NetAddr).port}`,
    async close() {
      l.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // already closed by the peer
        }
      }
      await loop;
    },
  };
}

/** A free 127.0.0.1 port with nothing listening on it. */
export function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}
