/**
 * The `census` command as a user runs it, for the CLI tests: a child process of
 * src/cli/main.ts (through tsx) in the project folder, with a clean environment (no CENSUS_*
 * from the caller; HOME and XDG_CONFIG_HOME in `home`, where it keeps its login).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  done: Promise<CliResult>;
}

export interface CliOptions {
  /** Added to the clean environment. */
  env?: Record<string, string>;
  /** Written to stdin, which is then closed (default: nothing). */
  input?: string;
}

function environment(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CENSUS_')) env[k] = v;
  return { ...env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), ...extra };
}

/** Starts `census ARGS…`; its output so far can be read while it runs. */
export function startCli(home: string, args: string[], o: CliOptions = {}): RunningCli {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    env: environment(home, o.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin!.end(o.input ?? '');
  const done = new Promise<CliResult>((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  return { child, stdout: () => stdout, stderr: () => stderr, done };
}

/** Runs `census ARGS…` to its end. */
export const runCli = (home: string, args: string[], o: CliOptions = {}): Promise<CliResult> => startCli(home, args, o).done;
