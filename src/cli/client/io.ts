/** The process's streams and environment, passed around so commands do not reach for globals. */

export interface Io {
  out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  err: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  env: NodeJS.ProcessEnv;
  now(): number;
}

export const processIo = (): Io => ({
  out: process.stdout,
  err: process.stderr,
  stdin: process.stdin,
  env: process.env,
  now: Date.now,
});

/** Everything on stdin (`--password-stdin`), without the final line break. */
export async function readStdin(io: Io): Promise<string> {
  if (io.stdin.isTTY) return promptHidden(io, 'Password: ');
  const chunks: Buffer[] = [];
  for await (const c of io.stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Asks for a secret on the terminal without echoing it. */
export function promptHidden(io: Io, question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = io.stdin;
    io.err.write(question);
    let value = '';
    stdin.setRawMode?.(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (err?: Error) => {
      stdin.setRawMode?.(false);
      stdin.pause();
      stdin.off('data', onData);
      io.err.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string | Buffer) => {
      for (const ch of String(chunk)) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
