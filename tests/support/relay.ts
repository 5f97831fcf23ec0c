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

/**
 * A TCP relay in front of the S3 endpoint that can stall one request: either
 * before the server sees it, or after the server stored it but before the
 * client hears back. The bytes are passed through untouched, so SigV4
 * signatures (which cover the Host header the client used) stay valid.
 */
export function stallingRelay(target: string): {
  url: string;
  stall(pattern: RegExp, mode: "request" | "response"): Promise<void>;
  release(): void;
  close(): Promise<void>;
} {
  const t = new URL(target);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  let trap:
    | { pattern: RegExp; mode: "request" | "response"; hit: () => void }
    | null = null;
  let releaseAll: () => void = () => {};
  let released = new Promise<void>((r) => (releaseAll = r));
  const dec = new TextDecoder();

  async function pump(
    from: Deno.Conn,
    to: Deno.Conn,
    gate: { held: boolean },
    inspect: boolean,
    peerGate: { held: boolean },
  ): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        const chunk = buf.slice(0, n);
        if (inspect && trap) {
          const head = dec.decode(chunk.subarray(0, Math.min(n, 512)));
          if (trap.pattern.test(head)) {
            const { mode, hit } = trap;
            trap = null;
            if (mode === "request") gate.held = true;
            else peerGate.held = true;
            hit();
          }
        }
        if (gate.held) {
          await released;
          gate.held = false; // released: the rest flows
        }
        let off = 0;
        while (off < chunk.length) off += await to.write(chunk.subarray(off));
      }
    } catch {
      // a side closed (the killed client, or close())
    } finally {
      try {
        await to.closeWrite();
      } catch {
        // already closed
      }
    }
  }

  const loop = (async () => {
    try {
      for await (const client of listener) {
        conns.add(client);
        (async () => {
          let server: Deno.Conn;
          try {
            server = await Deno.connect({
              hostname: t.hostname,
              port: Number(t.port),
            });
          } catch {
            client.close();
            return;
          }
          conns.add(server);
          const up = { held: false };
          const downGate = { held: false };
          await Promise.all([
            pump(client, server, up, true, downGate),
            pump(server, client, downGate, false, up),
          ]);
          for (const c of [client, server]) {
            conns.delete(c);
            try {
              c.close();
            } catch {
              // already closed
            }
          }
        })();
      }
    } catch {
      // listener closed
    }
  })();

  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    stall(pattern, mode) {
      return new Promise<void>((hit) => {
        trap = { pattern, mode, hit };
      });
    },
    release() {
      releaseAll();
      released = new Promise<void>((r) => (releaseAll = r));
    },
    async close() {
      releaseAll();
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
      await loop;
    },
  };
}
