/**
 * Census as real processes (`census server`, `census worker`), for tests that kill them. Each
 * child's output is kept; `started` resolves when it says it is up.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const root = new URL('../..', import.meta.url).pathname;

export interface CensusProcess {
  child: ChildProcess;
  /** The server's URL, or the worker's process name, once it has started. */
  started: Promise<string>;
  exited: Promise<number | null>;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

export function spawnCensus(command: 'server' | 'worker', args: string[], env: Record<string, string> = {}): CensusProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', command, ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  const pattern = command === 'server' ? /listening on (\S+)/ : /worker (\S+) is taking tasks/;
  const started = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`census ${command} did not start within 60 s:\n${out}`)), 60_000);
    const check = () => {
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`census ${command} exited (${code}) before it started:\n${out}`));
    });
  });
  started.catch(() => {});
  return {
    child,
    started,
    exited,
    output: () => out,
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
