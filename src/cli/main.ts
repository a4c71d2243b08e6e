/**
 * The `census` command. `census server` and `census worker` run Census itself (./serve.ts); every
 * other command is a client that talks to a running server over its HTTP API (./client/), and
 * loads nothing of the server.
 */

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'server':
    case 'worker': {
      const serve = await import('./serve.ts');
      return command === 'server' ? serve.server(rest) : serve.worker(rest);
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
      const code = await runClient(argv);
      process.exit(code);
    }
  }
}

main(process.argv.slice(2)).catch((err: Error) => {
  console.error(`census: ${err.message}`);
  process.exit(1);
});
