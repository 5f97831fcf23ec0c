/**
 * Where AWS credentials would come from, found without asking any server
 * (an instance-metadata lookup would cost a timeout on every machine that is
 * not on EC2): env vars, then the profile in the shared credentials and
 * config files, then web identity and container settings. The secret is
 * never read into the result; the key id only masked.
 * @module
 */
import { join } from "node:path";

/** Something that reads environment variables (`Deno.env` by default). */
export interface EnvLike {
  get(key: string): string | undefined;
}

/** `AKIAEXAMPLE1234` as `****1234`: only the last 4 characters are shown. */
export function maskKeyId(id: string): string {
  return id.length <= 4 ? "****" : `****${id.slice(-4)}`;
}

/** Where credentials were found, without the secret. */
export interface CredentialInfo {
  /** `env`, `profile`, `web-identity` or `container`. */
  source: "env" | "profile" | "web-identity" | "container";
  /** The key id masked to its last 4 characters, when there is a static key. */
  keyIdMasked: string | null;
  /** The profile name, for `profile`. */
  profile?: string;
  /** The file the profile came from. */
  file?: string;
  /** A static key id without its secret, or the like: why it cannot work. */
  problem?: string;
}

/**
 * Look for credentials where the AWS SDK's default chain does, without
 * asking any server (an instance-metadata lookup would cost a timeout):
 * env vars, then the profile (`AWS_PROFILE`, else `default`) in the shared
 * credentials and config files, then web identity and container settings.
 * Null when none is found.
 */
export function findCredentials(
  env: EnvLike = Deno.env,
): CredentialInfo | null {
  const keyId = safeGet(env, "AWS_ACCESS_KEY_ID");
  const secret = safeGet(env, "AWS_SECRET_ACCESS_KEY");
  if (keyId) {
    const info: CredentialInfo = {
      source: "env",
      keyIdMasked: maskKeyId(keyId),
    };
    if (!secret) {
      info.problem =
        "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not; set both";
    }
    return info;
  }
  const profile = safeGet(env, "AWS_PROFILE") || "default";
  const home = safeGet(env, "HOME") ?? "";
  const files = [
    {
      path: safeGet(env, "AWS_SHARED_CREDENTIALS_FILE") ||
        join(home, ".aws", "credentials"),
      section: profile,
    },
    {
      path: safeGet(env, "AWS_CONFIG_FILE") || join(home, ".aws", "config"),
      section: profile === "default" ? "default" : `profile ${profile}`,
    },
  ];
  for (const f of files) {
    const values = readIniSection(f.path, f.section);
    if (values === null) continue;
    const id = values["aws_access_key_id"];
    if (id) {
      const info: CredentialInfo = {
        source: "profile",
        keyIdMasked: maskKeyId(id),
        profile,
        file: f.path,
      };
      if (!values["aws_secret_access_key"]) {
        info.problem =
          `profile "${profile}" in ${f.path} has aws_access_key_id but no aws_secret_access_key`;
      }
      return info;
    }
    if (
      values["role_arn"] || values["sso_session"] || values["sso_start_url"] ||
      values["credential_process"] || values["web_identity_token_file"]
    ) {
      return { source: "profile", keyIdMasked: null, profile, file: f.path };
    }
  }
  if (
    safeGet(env, "AWS_WEB_IDENTITY_TOKEN_FILE") && safeGet(env, "AWS_ROLE_ARN")
  ) {
    return { source: "web-identity", keyIdMasked: null };
  }
  if (
    safeGet(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") ||
    safeGet(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI")
  ) {
    return { source: "container", keyIdMasked: null };
  }
  return null;
}

function safeGet(env: EnvLike, key: string): string | undefined {
  try {
    return env.get(key);
  } catch {
    return undefined;
  }
}

/** Read one `[section]` of an INI file as lower-cased keys; null if absent. */
function readIniSection(
  path: string,
  section: string,
): Record<string, string> | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return null;
  }
  let current: string | null = null;
  let found: Record<string, string> | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = line.match(/^\[\s*(.+?)\s*\]$/);
    if (header) {
      current = header[1];
      if (current === section) found ??= {};
      continue;
    }
    if (current !== section || found === null) continue;
    const eq = line.indexOf("=");
    if (eq > 0) {
      found[line.slice(0, eq).trim().toLowerCase()] = line.slice(eq + 1).trim();
    }
  }
  return found;
}
