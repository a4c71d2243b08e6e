/** What a client command is, and the context it runs in. */
import { readFileSync } from 'node:fs';
import type { Connection, Paths } from './config.ts';
import { CliError, UsageError } from './errors.ts';
import type { Api } from './http.ts';
import { readStdin, type Io } from './io.ts';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
}

export type Values = Record<string, string | boolean | undefined>;

export interface Ctx {
  io: Io;
  /** `--json`: raw API JSON on stdout instead of tables. */
  json: boolean;
  values: Values;
  /** Positional arguments after the command words. */
  args: string[];
  /** This command's usage text, for usage errors raised while running. */
  usage: string;
  paths: Paths;
  /** The connection settings (flags > environment > config file). */
  connection(): Connection;
  /** A client for the server, made on first use (with `override` applied to the connection). */
  api(override?: Partial<Connection>): Api;
  /** Prints lines to stdout. */
  print(...lines: string[]): void;
  /** Prints a value as indented JSON to stdout. */
  printJson(value: unknown): void;
}

export interface Command {
  /** The command words: ['job', 'run']. */
  words: string[];
  /** What follows the words in the usage line: 'ID [--wait] [--follow] [--timeout S]'. */
  synopsis: string;
  /** One line for the command list. */
  summary: string;
  /** The options, one per line, for `census <command> --help`. */
  help?: string;
  options?: Record<string, OptionSpec>;
  /** Required positional arguments, by name. */
  args?: string[];
  /** More positional arguments than `args` names are taken too (the last one repeats: `ID [ID…]`). */
  variadic?: boolean;
  /** `--user`/`--password` describe credentials being registered, not the login to Census. */
  ownCredentials?: boolean;
  run(ctx: Ctx): Promise<number | void>;
}

export function str(ctx: Ctx, name: string): string | undefined {
  const v = ctx.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function flag(ctx: Ctx, name: string): boolean {
  return ctx.values[name] === true;
}

/** A numeric id argument (job, session, server, identity ids are whole numbers). */
export function idArg(ctx: Ctx, index: number, what: string): string {
  const v = ctx.args[index] ?? '';
  if (!/^\d{1,19}$/.test(v)) throw new UsageError(`${what} must be a number, not ${JSON.stringify(v)}`, ctx.usage);
  return v;
}

export function intOption(ctx: Ctx, name: string, min: number, max: number): number | undefined {
  const v = str(ctx, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`, ctx.usage);
  }
  return n;
}

export function choice<T extends string>(ctx: Ctx, name: string, allowed: readonly T[]): T | undefined {
  const v = str(ctx, name);
  if (v === undefined) return undefined;
  const lower = v.toLowerCase() as T;
  if (!allowed.includes(lower)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}`, ctx.usage);
  return lower;
}

export function required(ctx: Ctx, name: string): string {
  const v = str(ctx, name);
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`, ctx.usage);
  return v;
}

/** `--timeout S` in milliseconds. */
export function timeoutOption(ctx: Ctx): number | undefined {
  const s = intOption(ctx, 'timeout', 1, 7 * 86_400);
  return s === undefined ? undefined : s * 1000;
}

export interface Secret {
  kind: 'password' | 'key';
  password?: string;
  privatekey?: string;
  passphrase?: string;
}

/**
 * Exactly one of `--password P`, `--password-stdin`, `--key FILE` (with `--passphrase`), or
 * `--no-password` where the command takes it (`noPassword`: the server's type lets a login have none).
 */
export async function secretOptions(ctx: Ctx, noPassword?: { allowed: boolean; type: string }): Promise<Secret> {
  const spelled: Record<string, string> = { password: '--password P', 'password-stdin': '--password-stdin', key: '--key FILE', ...(noPassword ? { 'no-password': '--no-password' } : {}) };
  const names = Object.keys(spelled);
  const given = names.filter((n) => ctx.values[n] !== undefined && ctx.values[n] !== false);
  if (given.length !== 1) {
    const all = Object.values(spelled);
    throw new UsageError(`give exactly one of ${all.slice(0, -1).join(', ')} or ${all.at(-1)}`, ctx.usage);
  }
  if (given[0] === 'no-password') {
    if (!noPassword!.allowed) throw new UsageError(`a ${noPassword!.type} server needs a password: give --password P or --password-stdin`, ctx.usage);
    return { kind: 'password', password: '' };
  }
  const passphrase = str(ctx, 'passphrase');
  if (passphrase !== undefined && given[0] !== 'key') throw new UsageError('--passphrase goes with --key', ctx.usage);
  if (given[0] === 'key') {
    const file = str(ctx, 'key')!;
    let privatekey: string;
    try {
      privatekey = readFileSync(file, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read the key file ${file}: ${(err as Error).message}`);
    }
    return { kind: 'key', privatekey, ...(passphrase !== undefined ? { passphrase } : {}) };
  }
  const password = given[0] === 'password' ? str(ctx, 'password')! : await readStdin(ctx.io);
  if (password === '') throw new UsageError('the password is empty', ctx.usage);
  return { kind: 'password', password };
}

export const SECRET_OPTIONS: Record<string, OptionSpec> = {
  password: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  key: { type: 'string' },
  passphrase: { type: 'string' },
};
