/**
 * The user config file, `$XDG_CONFIG_HOME/stint/config.json` (else
 * `~/.config/stint/config.json`): one JSON object read by whoever needs it
 * (sync settings in `sync/config.ts`, retention and the log budget in
 * `cli/retention_config.ts`). Each reader checks its own keys' values; this
 * module reads the file, refuses credentials, and warns once about keys
 * nobody knows. A bad file is a warning, never a crash.
 * @module
 */

/** The keys sync reads (src/sync/config.ts). */
export const SYNC_CONFIG_KEYS: readonly string[] = [
  "bucket",
  "endpoint",
  "region",
  "prefix",
  "flush_interval",
  "sync_deadline",
  "gc_grace",
];

/** Every key the file may hold: sync's, then retention's (src/cli/retention_config.ts). */
export const USER_CONFIG_KEYS: readonly string[] = [
  ...SYNC_CONFIG_KEYS,
  "retention",
  "log_budget",
];

/** Something that reads environment variables (`Deno.env`, or a test's map). */
export interface Env {
  /** The variable's value, or undefined. */
  get(key: string): string | undefined;
}

/** The user config file path (it may not exist). */
export function userConfigPath(env: Env = Deno.env): string | null {
  const xdg = safeGet(env, "XDG_CONFIG_HOME");
  if (xdg) return `${xdg}/stint/config.json`;
  const home = safeGet(env, "HOME");
  return home ? `${home}/.config/stint/config.json` : null;
}

/** The file's settings (known keys only), or null when there is no usable file. */
export interface UserConfig {
  /** The file read. */
  path: string;
  /** Its known settings, as parsed. */
  values: Record<string, unknown>;
}

/**
 * Read the user config file: null when there is none (or it is not
 * usable: a warning says why). Credentials and unknown keys are left out,
 * each with one warning.
 */
export function readUserConfig(
  env: Env,
  warnings: string[],
): UserConfig | null {
  const path = userConfigPath(env);
  if (path === null) return null;
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    warnings.push(
      `Ignoring the config file ${path}: it cannot be read (${
        err instanceof Error ? err.message.split("\n")[0] : String(err)
      })`,
    );
    return null;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    warnings.push(`Ignoring the config file ${path}: it is not valid JSON`);
    return null;
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    warnings.push(
      `Ignoring the config file ${path}: expected a JSON object like {"bucket": "my-bucket"}`,
    );
    return null;
  }
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    if (/secret|access_key|token|password|credential/i.test(key)) {
      warnings.push(
        `Ignoring "${key}" in ${path}: credentials come only from the AWS settings (AWS_ACCESS_KEY_ID, AWS_PROFILE, ...); remove it from the file`,
      );
      continue;
    }
    if (!USER_CONFIG_KEYS.includes(key)) {
      warnings.push(
        `Ignoring unknown setting "${key}" in ${path} (known: ${
          USER_CONFIG_KEYS.join(", ")
        })`,
      );
      continue;
    }
    values[key] = value;
  }
  return { path, values };
}

/** `env.get(key)`, or undefined when it may not be read. */
export function safeGet(env: Env, key: string): string | undefined {
  try {
    return env.get(key);
  } catch {
    return undefined;
  }
}
