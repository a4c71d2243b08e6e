/**
 * The `census` command, the program's entry (bin/census.js loads it). `census server` and
 * `census worker` run Census itself (../serve.ts, beside the composition root: the one import
 * from cli/ upward, allowed only here, see test/architecture.test.ts);
 * `census backup`, `census restore` and `census rotate-key` work on its data directly (./backup.ts,
 * ./rotate-key.ts); every other
 * command is a client that talks to a running server over its HTTP API (./client/), and loads
 * nothing of the server.
 */

/**
 * Exits once stdout has taken everything written to it: a large answer (`vm list --json`) into a
 * pipe is written in part at once and the rest later, and process.exit would cut it short.
 */
async function exitAfterOutput(code: number): Promise<never> {
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  // `census worker list …` asks a server which workers there are (a client command); any other
  // `census worker …` starts one.
  if (command === 'worker' && rest[0] === 'list') {
    const { runClient } = await import('./client/run.ts');
    return exitAfterOutput(await runClient(argv));
  }
  switch (command) {
    case 'server':
    case 'worker': {
      const serve = await import('../serve.ts');
      return command === 'server' ? serve.server(rest) : serve.worker(rest);
    }
    case 'backup':
    case 'restore': {
      // They work on the data dir (or database) directly, not through a server's API.
      const { main: run } = await import('./backup.ts');
      return run(command, rest);
    }
    case 'rotate-key': {
      // Also on the key file and the database directly (docs/operations.md, "Rotating the secret key").
      const { main: run } = await import('./rotate-key.ts');
      return run(rest);
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h': {
      // Only the client's help: `census server --help` and `census worker --help` load the server.
      const { clientHelp } = await import('./client/run.ts');
      console.log(clientHelp());
      return;
    }
    default: {
      const { runClient } = await import('./client/run.ts');
      return exitAfterOutput(await runClient(argv));
    }
  }
}

main(process.argv.slice(2)).catch((err: Error) => {
  console.error(`census: ${err.message}`);
  process.exit(1);
});
