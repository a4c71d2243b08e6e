/** The `census` command. */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { startCensus, DEFAULT_CONFIG } from '../main.ts';

const USAGE = `Usage: census server [options]

Runs the Census server (HTTPS API on one port, embedded SQLite by default).

Options:
  --port N             port to listen on (default ${DEFAULT_CONFIG.port})
  --host ADDR          address to listen on (default ${DEFAULT_CONFIG.host})
  --data-dir DIR       where the database, TLS certificate and keys live (default ./.census or $CENSUS_DATA_DIR)
  --database URL       postgres://user@host/db to keep everything in PostgreSQL instead of SQLite
  --http               serve plain HTTP instead of HTTPS
  --concurrency N      application servers inventoried at once (default ${DEFAULT_CONFIG.concurrency})
  --task-timeout S     seconds one server's inventory may take (default ${DEFAULT_CONFIG.taskTimeoutMs / 1000})
  --inventory-time HH:MM   daily time of the Application Server Inventory (default 00:00)
  --timezone ZONE      IANA time zone of --inventory-time (default UTC)

Environment: CENSUS_ADMIN_PASSWORD sets the first admin password; CENSUS_SECRET_KEY (base64, 32 bytes)
replaces the key file that encrypts stored credentials.`;

function fail(message: string): never {
  console.error(`census: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function int(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) fail(`--${name} must be a whole number from ${min} to ${max}`);
  return n;
}

async function server(args: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        port: { type: 'string' }, host: { type: 'string' }, 'data-dir': { type: 'string' }, database: { type: 'string' },
        http: { type: 'boolean' }, concurrency: { type: 'string' }, 'task-timeout': { type: 'string' },
        'inventory-time': { type: 'string' }, timezone: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const dataDir = resolve(values['data-dir'] ?? process.env.CENSUS_DATA_DIR ?? '.census');
  const timeout = int('task-timeout', values['task-timeout'], 1, 86_400);
  const census = await startCensus({
    dataDir,
    port: int('port', values.port, 0, 65535) ?? DEFAULT_CONFIG.port,
    host: values.host ?? DEFAULT_CONFIG.host,
    http: values.http ?? false,
    concurrency: int('concurrency', values.concurrency, 1, 1000) ?? DEFAULT_CONFIG.concurrency,
    taskTimeoutMs: timeout === undefined ? DEFAULT_CONFIG.taskTimeoutMs : timeout * 1000,
    ...(values.database ? { database: values.database } : {}),
    ...(values['inventory-time'] ? { inventorySchedule: { time: values['inventory-time'], ...(values.timezone ? { timezone: values.timezone } : {}) } } : {}),
    ...(process.env.CENSUS_ADMIN_PASSWORD ? { adminPassword: process.env.CENSUS_ADMIN_PASSWORD } : {}),
    ...(process.env.CENSUS_SECRET_KEY !== undefined ? { secretKey: process.env.CENSUS_SECRET_KEY } : {}),
  });
  console.log(`Census is listening on ${census.url}  (data: ${dataDir}, database: ${values.database ? 'PostgreSQL' : 'SQLite'})`);
  if (census.initialAdminPassword) {
    console.log('');
    console.log('  First start: an admin user was created.');
    console.log(`    user:     admin`);
    console.log(`    password: ${census.initialAdminPassword}`);
    console.log(`  This is shown once; it is also in ${dataDir}/initial-admin-password (readable only by you).`);
    console.log('');
  }
  const shutdown = (signal: string) => {
    console.log(`census: ${signal} received, shutting down`);
    census.stop().then(
      () => process.exit(0),
      (err: Error) => {
        console.error(`census: shutdown failed: ${err.message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'server':
      return server(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return;
    default:
      fail(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).catch((err: Error) => {
  console.error(`census: ${err.message}`);
  process.exit(1);
});
