/**
 * `deno task s3`: a local S3 endpoint (fauxqs) on 127.0.0.1 for trying sync
 * by hand. Prints the environment to export, then serves until Ctrl-C.
 * Objects live in memory unless `--data <dir>` is given.
 *
 *   deno task s3 [--port 4566] [--bucket stint-local] [--data ./s3-data]
 * @module
 */
import { parseArgs } from "node:util";
import { loadFauxqs } from "../tests/support/fauxqs.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string", default: "4566" },
    bucket: { type: "string", default: "stint-local" },
    data: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
  strict: true,
});

if (values.help) {
  console.log(
    "Usage: deno task s3 [--port 4566] [--bucket stint-local] [--data <dir>]",
  );
  Deno.exit(0);
}

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be a port number, not "${values.port}"`);
  Deno.exit(2);
}

const { startFauxqs } = await loadFauxqs();
let server;
try {
  server = await startFauxqs({
    port,
    host: "127.0.0.1",
    logger: false,
    ...(values.data ? { dataDir: values.data } : {}),
  });
} catch (err) {
  console.error(
    `Cannot start the local S3 server on 127.0.0.1:${port}: ${
      err instanceof Error ? err.message.split("\n")[0] : String(err)
    } (try --port 0)`,
  );
  Deno.exit(1);
}
server.createBucket(values.bucket);
const endpoint = `http://127.0.0.1:${server.port}`;
console.log(`# Local S3 (fauxqs) at ${endpoint}, bucket ${values.bucket}.`);
console.log("# In another shell, export these and use stint as usual:");
console.log(`export STINT_BUCKET=${values.bucket}`);
console.log(`export STINT_S3_ENDPOINT=${endpoint}`);
console.log("export STINT_S3_REGION=us-east-1");
// fauxqs ignores signatures; these are placeholders, not secrets.
console.log("export AWS_ACCESS_KEY_ID=local");
console.log("export AWS_SECRET_ACCESS_KEY=local-secret");
console.log(
  "# Then: stint run <task>; stint sync status; Ctrl-C here stops the server.",
);

const stop = async () => {
  await server.stop();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
