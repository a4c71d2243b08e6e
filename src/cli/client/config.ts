/**
 * Where the client keeps things, and how connection settings are resolved.
 *
 *   $XDG_CONFIG_HOME/census/ (default ~/.config/census/), mode 0700
 *     config.json         {url, user, insecure, password?}: written by `census login`; `--config FILE`
 *                         (or CENSUS_CONFIG) reads and writes another file instead
 *     sessions.json       login sessions by server URL: {user, sessionId, expiresAt}
 *     known_servers.json  pinned certificate fingerprints by host:port (`--insecure`)
 *
 * Every file is written 0600 (they may hold a session id, or a password after `--save-password`).
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { CliError } from './errors.ts';

export const DEFAULT_URL = 'https://127.0.0.1:8443';
/** The server's sliding idle timeout of login sessions (docs/compat.md, "Login sessions"). */
export const SESSION_IDLE_MS = 45 * 60_000;

export interface Paths {
  dir: string;
  config: string;
  sessions: string;
  knownServers: string;
}

export function resolvePaths(env: NodeJS.ProcessEnv, configFlag?: string): Paths {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.config');
  const dir = join(base, 'census');
  const explicit = configFlag ?? (env.CENSUS_CONFIG || undefined);
  return {
    dir,
    config: explicit ? resolve(explicit) : join(dir, 'config.json'),
    sessions: join(dir, 'sessions.json'),
    knownServers: join(dir, 'known_servers.json'),
  };
}

/** Reads a JSON object file; a missing file is `{}`, a malformed one an error that names it. */
export function readJsonFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`);
  }
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CliError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new CliError(`${path} must hold a JSON object.`);
  return parsed as Record<string, unknown>;
}

/** Writes a JSON file readable only by its owner, atomically (a temp file renamed into place). */
export function writeJsonFile(path: string, value: unknown): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

export interface FileConfig {
  url?: string;
  user?: string;
  password?: string;
  insecure?: boolean;
}

export function readConfig(path: string): FileConfig {
  const raw = readJsonFile(path);
  const out: FileConfig = {};
  for (const key of ['url', 'user', 'password'] as const) {
    const v = raw[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') throw new CliError(`${path}: "${key}" must be a string.`);
    out[key] = v;
  }
  if (raw.insecure !== undefined && raw.insecure !== null) {
    if (typeof raw.insecure !== 'boolean') throw new CliError(`${path}: "insecure" must be true or false.`);
    out.insecure = raw.insecure;
  }
  return out;
}

/** Flags, then environment, then the config file. */
export interface ConnectionFlags {
  url?: string | undefined;
  user?: string | undefined;
  password?: string | undefined;
  insecure?: boolean | undefined;
}

export interface Connection {
  url: URL;
  user: string | undefined;
  password: string | undefined;
  insecure: boolean;
  /** Where each setting came from, for messages. */
  sources: { url: string; user: string; password: string };
}

const truthy = (v: string | undefined) => v !== undefined && /^(1|true|yes|on)$/i.test(v.trim());

export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv, file: FileConfig, configPath: string): Connection {
  const pick = (flag: string | undefined, envName: string, fromFile: string | undefined): [string | undefined, string] => {
    if (flag !== undefined) return [flag, 'flag'];
    const e = env[envName];
    if (e !== undefined && e !== '') return [e, envName];
    if (fromFile !== undefined) return [fromFile, configPath];
    return [undefined, 'none'];
  };
  const [rawUrl, urlSource] = pick(flags.url, 'CENSUS_URL', file.url);
  const [user, userSource] = pick(flags.user, 'CENSUS_USER', file.user);
  const [password, passwordSource] = pick(flags.password, 'CENSUS_PASSWORD', file.password);
  const insecure = flags.insecure ? true : env.CENSUS_INSECURE !== undefined && env.CENSUS_INSECURE !== '' ? truthy(env.CENSUS_INSECURE) : file.insecure ?? false;
  return { url: parseServerUrl(rawUrl ?? DEFAULT_URL), user, password, insecure, sources: { url: urlSource, user: userSource, password: passwordSource } };
}

/** `https://host:8443` (a bare `host:port` means HTTPS); any path is dropped. */
export function parseServerUrl(raw: string): URL {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError(`"${raw}" is not a URL; use https://HOST:PORT.`, 2);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new CliError(`"${raw}": use an https:// (or http://) URL.`, 2);
  return new URL(url.origin);
}

/** host:port as the pin store keys it (default ports spelled out). */
export function hostPort(url: URL): string {
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `${url.hostname.toLowerCase()}:${port}`;
}

// ---- login sessions ------------------------------------------------------------------------------

export interface StoredSession {
  user: string;
  sessionId: string;
  /** When the server forgets it if unused (its idle timeout after the last request we made). */
  expiresAt: number;
}

export class SessionStore {
  constructor(private path: string) {}

  get(url: URL): StoredSession | undefined {
    const v = readJsonFile(this.path)[url.origin];
    if (!v || typeof v !== 'object') return undefined;
    const s = v as Record<string, unknown>;
    if (typeof s.user !== 'string' || typeof s.sessionId !== 'string' || typeof s.expiresAt !== 'number') return undefined;
    return { user: s.user, sessionId: s.sessionId, expiresAt: s.expiresAt };
  }

  put(url: URL, s: StoredSession): void {
    const all = readJsonFile(this.path);
    all[url.origin] = s;
    writeJsonFile(this.path, all);
  }

  remove(url: URL): void {
    const all = readJsonFile(this.path);
    if (!(url.origin in all)) return;
    delete all[url.origin];
    writeJsonFile(this.path, all);
  }
}

// ---- pinned certificates -------------------------------------------------------------------------

export interface Pin {
  sha256: string;
  pinnedAt: string;
}

export class KnownServers {
  constructor(readonly path: string) {}

  get(key: string): Pin | undefined {
    const v = readJsonFile(this.path)[key];
    if (!v || typeof v !== 'object') return undefined;
    const p = v as Record<string, unknown>;
    return typeof p.sha256 === 'string' ? { sha256: p.sha256, pinnedAt: String(p.pinnedAt ?? '') } : undefined;
  }

  put(key: string, sha256: string, now: Date): void {
    const all = readJsonFile(this.path);
    all[key] = { sha256, pinnedAt: now.toISOString() };
    writeJsonFile(this.path, all);
  }
}
