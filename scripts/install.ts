/**
 * `deno task install`: `deno install -g` of this checkout, pinned to its
 * lockfile. The global installer keeps the config and lockfile it runs
 * with in `<root>/bin/.<name>/`; without a lockfile there it resolves every
 * npm package afresh (newer versions than deno.lock's). So this puts
 * deno.lock there first, then installs: only the runtime import map's
 * packages, at the locked versions (test-only packages live in
 * tests/deno.json, which the installer leaves out).
 *
 *   deno task install [--root DIR] [--name NAME]
 *
 * @module
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    root: { type: "string" },
    name: { type: "string", default: "stint" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(
    "Usage: deno task install [--root DIR] [--name NAME]\n\n" +
      "Install stint from this checkout with deno install -g, pinned to deno.lock.\n" +
      "DIR defaults to $DENO_INSTALL_ROOT, else ~/.deno; NAME to stint.",
  );
  Deno.exit(0);
}

const checkout = decodeURIComponent(new URL("..", import.meta.url).pathname)
  .replace(/\/$/, "");
const name = values.name!;
if (!/^[A-Za-z0-9._-]+$/.test(name)) {
  console.error(`--name must be a plain file name, not "${name}"`);
  Deno.exit(2);
}
const home = Deno.env.get("HOME") ?? "";
const root = values.root ?? Deno.env.get("DENO_INSTALL_ROOT") ??
  `${home}/.deno`;
const bin = `${root}/bin`;
const hidden = `${bin}/.${name}`;

async function deno(args: string[]): Promise<void> {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    console.error(`install: deno ${args[0]} failed (exit ${code})`);
    Deno.exit(1);
  }
}

// A reinstall (-f) would drop a seeded lockfile: uninstall, then install.
try {
  Deno.statSync(`${bin}/${name}`);
  await deno(["uninstall", "-g", "--root", root, name]);
} catch (err) {
  if (!(err instanceof Deno.errors.NotFound)) throw err;
}
Deno.mkdirSync(hidden, { recursive: true });
Deno.copyFileSync(`${checkout}/deno.lock`, `${hidden}/deno.lock`);
await deno([
  "install",
  "-g",
  "-A",
  "--quiet",
  "--root",
  root,
  "-n",
  name,
  "--config",
  `${checkout}/deno.json`,
  `${checkout}/main.ts`,
]);

// Every runtime specifier must have resolved to the checkout's version.
type Lock = { specifiers?: Record<string, string> };
const wanted =
  (JSON.parse(Deno.readTextFileSync(`${checkout}/deno.lock`)) as Lock)
    .specifiers ?? {};
const got = (JSON.parse(Deno.readTextFileSync(`${hidden}/deno.lock`)) as Lock)
  .specifiers ?? {};
const drift = Object.entries(got).filter(([spec, v]) => wanted[spec] !== v);
if (drift.length) {
  console.error(
    `install: resolved other versions than deno.lock: ${
      drift.map(([s, v]) => `${s} -> ${v}`).join(", ")
    }`,
  );
  Deno.exit(1);
}
console.log(`Installed ${bin}/${name} (locked to ${checkout}/deno.lock)`);
if (!(Deno.env.get("PATH") ?? "").split(":").includes(bin)) {
  console.log(`Add it to your PATH: export PATH="${bin}:$PATH"`);
}
