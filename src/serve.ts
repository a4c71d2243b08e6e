/**
 * `census server` and `census worker`: the processes that run Census itself. Beside the
 * composition root (./main.ts) rather than in cli/, because starting Census needs every layer
 * and cli/ sits below main.ts (docs/architecture.md, "Layers"); src/cli/main.ts, the program's
 * entry, loads it.
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { SHARED_HOST_CPU } from './engine/pgboss-queue.ts';
import { startCensus, startWorker, DEFAULT_CONFIG, DEFAULT_HTTP_LIMITS, normalizePublicUrl, type CensusConfig, type HttpLimits } from './main.ts';

export const USAGE = `Usage: census server [options]
       census worker --database postgres://… [options]

census server runs the API (HTTPS on one port, embedded SQLite by default; on SQLite it also
runs the inventory tasks). census worker takes inventory tasks from the PostgreSQL queue; run
as many as you like, on any machine, next to one or more servers on the same database.

Options:
  --port N             port to listen on (default ${DEFAULT_CONFIG.port})                       [server]
  --host ADDR          address to listen on (default ${DEFAULT_CONFIG.host})               [server]
  --http               serve plain HTTP instead of HTTPS                               [server]
  --tls-cert FILE      the server's certificate (PEM; intermediates after it) instead of the
                       self-signed one made in the data dir; with --tls-key             [server]
  --tls-key FILE       its private key (PEM, unencrypted)                              [server]
  --public-url URL     the address clients use (e.g. https://census.example.com behind a
                       proxy): links in answers start with it. Without it they follow the
                       request's Host only when that names this server's own address  [server]
  --with-worker        on PostgreSQL, run tasks in the server process too              [server]
  --inventory-time HH:MM   daily time of the Application Server Inventory (default 00:00) [server]
  --timezone ZONE      IANA time zone of --inventory-time (default UTC)                [server]
  --data-dir DIR       database (SQLite), TLS certificate and key file (default ./.census or $CENSUS_DATA_DIR)
  --database URL       postgres://user@host/db to keep everything in PostgreSQL instead of SQLite
  --concurrency N      tasks this process runs at once (default ${DEFAULT_CONFIG.concurrency})
  --site NAME          the site whose servers' tasks this process takes when it runs tasks
                       (default Primary; the site must exist: POST /api/site; docs/sites.md)
  --estate-concurrency N   tasks running at once across all processes (default: no limit)
  --shared-cpu PERCENT     a worker started after another of its site on the same machine takes
                       tasks only while the machine's CPUs are less busy than this (default
                       ${SHARED_HOST_CPU * 100}; 100: as if alone; docs/operations.md)
  --task-timeout S     seconds one server's inventory may take (default ${DEFAULT_CONFIG.taskTimeoutMs / 1000})
  --lease S            seconds a running task's claim holds without a heartbeat; a task of a
                       process that hangs runs again elsewhere after this (default 60); on
                       PostgreSQL a process that died is seen within seconds, lease or not
  --delivery-retry S   seconds before a failed notification delivery is tried again; doubles
                       each time up to an hour (default 10; docs/notifications.md)
  --metrics-token T    lets Prometheus read /metrics with "Authorization: Bearer T" (or set
                       CENSUS_METRICS_TOKEN); without it /metrics needs a login session  [server]

Request limits [server] (docs/operations.md, "Request limits"):
  --header-timeout S       time to receive a request's headers (default ${DEFAULT_HTTP_LIMITS.headersTimeoutMs / 1000})
  --body-timeout S         longest pause while a body arrives, then 408 (default ${DEFAULT_HTTP_LIMITS.bodyIdleTimeoutMs / 1000})
  --request-timeout S      time to receive a whole request (default ${DEFAULT_HTTP_LIMITS.requestTimeoutMs / 1000})
  --keep-alive-timeout S   idle time of a keep-alive connection (default ${DEFAULT_HTTP_LIMITS.keepAliveTimeoutMs / 1000})
  --max-connections-per-address N   open connections from one address (default ${DEFAULT_HTTP_LIMITS.maxConnectionsPerAddress})

Environment: CENSUS_ADMIN_PASSWORD sets the first admin password; CENSUS_SECRET_KEY (base64, 32
bytes) replaces the key file that encrypts stored credentials — in a cluster, give every server
and worker the same key.

SIGHUP reads the TLS certificate and key files again (new connections get them; a bad pair is
logged and the old one stays) and the key file (census rotate-key; docs/operations.md).`;

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

const OPTIONS = {
  port: { type: 'string' }, host: { type: 'string' }, 'data-dir': { type: 'string' }, database: { type: 'string' },
  http: { type: 'boolean' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'public-url': { type: 'string' }, 'with-worker': { type: 'boolean' }, concurrency: { type: 'string' }, 'estate-concurrency': { type: 'string' },
  'shared-cpu': { type: 'string' },
  'task-timeout': { type: 'string' }, lease: { type: 'string' }, 'metrics-token': { type: 'string' }, site: { type: 'string' }, 'delivery-retry': { type: 'string' },
  'header-timeout': { type: 'string' }, 'body-timeout': { type: 'string' }, 'request-timeout': { type: 'string' },
  'keep-alive-timeout': { type: 'string' }, 'max-connections-per-address': { type: 'string' }, 'inventory-time': { type: 'string' }, timezone: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Options → configuration, shared by `server` and `worker`. */
function readConfig(args: string[]): (Partial<CensusConfig> & { dataDir: string }) | undefined {
  let values;
  try {
    ({ values } = parseArgs({ args, options: OPTIONS }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return undefined;
  }
  const seconds = (name: string, v: string | undefined) => {
    const n = int(name, v, 1, 86_400);
    return n === undefined ? undefined : n * 1000;
  };
  const timeout = seconds('task-timeout', values['task-timeout']);
  const lease = seconds('lease', values.lease);
  const deliveryRetry = seconds('delivery-retry', values['delivery-retry']);
  const estate = int('estate-concurrency', values['estate-concurrency'], 1, 100_000);
  const sharedCpu = int('shared-cpu', values['shared-cpu'], 1, 100);
  const limits = Object.fromEntries(Object.entries({
    headersTimeoutMs: seconds('header-timeout', values['header-timeout']),
    bodyIdleTimeoutMs: seconds('body-timeout', values['body-timeout']),
    requestTimeoutMs: seconds('request-timeout', values['request-timeout']),
    keepAliveTimeoutMs: seconds('keep-alive-timeout', values['keep-alive-timeout']),
    maxConnectionsPerAddress: int('max-connections-per-address', values['max-connections-per-address'], 1, 1_000_000),
  }).filter(([, v]) => v !== undefined)) as Partial<HttpLimits>;
  const metricsToken = values['metrics-token'] ?? process.env.CENSUS_METRICS_TOKEN;
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) fail('--tls-cert and --tls-key go together: give both or neither');
  if (values['tls-cert'] !== undefined && values.http) fail('--tls-cert and --tls-key are for HTTPS: leave out --http');
  return {
    dataDir: resolve(values['data-dir'] ?? process.env.CENSUS_DATA_DIR ?? '.census'),
    port: int('port', values.port, 0, 65535) ?? DEFAULT_CONFIG.port,
    host: values.host ?? DEFAULT_CONFIG.host,
    http: values.http ?? false,
    withWorker: values['with-worker'] ?? false,
    concurrency: int('concurrency', values.concurrency, 1, 1000) ?? DEFAULT_CONFIG.concurrency,
    taskTimeoutMs: timeout ?? DEFAULT_CONFIG.taskTimeoutMs,
    ...(lease ? { leaseMs: lease } : {}),
    ...(deliveryRetry ? { deliveryRetryMs: deliveryRetry } : {}),
    ...(estate ? { estateConcurrency: estate } : {}),
    ...(sharedCpu !== undefined ? { sharedHostCpu: sharedCpu / 100 } : {}),
    ...(Object.keys(limits).length ? { limits } : {}),
    ...(metricsToken ? { metricsToken } : {}),
    ...(values.database ? { database: values.database } : {}),
    ...(values.site !== undefined ? { site: siteName(values.site) } : {}),
    ...(values['tls-cert'] !== undefined && values['tls-key'] !== undefined ? { tlsCert: resolve(values['tls-cert']), tlsKey: resolve(values['tls-key']) } : {}),
    ...(values['public-url'] !== undefined ? { publicUrl: publicUrl(values['public-url']) } : {}),
    ...(values['inventory-time'] ? { inventorySchedule: { time: values['inventory-time'], ...(values.timezone ? { timezone: values.timezone } : {}) } } : {}),
    ...(process.env.CENSUS_ADMIN_PASSWORD ? { adminPassword: process.env.CENSUS_ADMIN_PASSWORD } : {}),
    ...(process.env.CENSUS_SECRET_KEY !== undefined ? { secretKey: process.env.CENSUS_SECRET_KEY } : {}),
  };
}

function siteName(text: string): string {
  if (!text.trim()) fail('--site needs the name of a site (GET /api/site lists them)');
  return text.trim();
}

function publicUrl(text: string): string {
  try {
    return normalizePublicUrl(text);
  } catch (err) {
    fail((err as Error).message);
  }
}

/**
 * Everything this process creates from now on is owner-only from birth (the data dir's files,
 * and whatever a library writes). Census does not depend on it: each file is also created with
 * its own mode and the data dir is checked at every start (src/store/data-dir.ts); this closes
 * the gap for files nobody thought of. Only here, in the real process: a library caller or a
 * test keeps its own umask.
 */
function privateUmask(): void {
  process.umask(0o077);
}

function stopOnSignals(name: string, stop: () => Promise<void>): void {
  const shutdown = (signal: string) => {
    console.log(`census ${name}: ${signal} received, shutting down`);
    stop().then(
      () => process.exit(0),
      (err: Error) => {
        console.error(`census ${name}: shutdown failed: ${err.message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

/**
 * What SIGHUP does: read the TLS files (server) and the key file again. Each failure is logged
 * and leaves what was in use; nothing here stops the process. Exported for tests.
 */
export function reloadFiles(
  name: string,
  target: { reloadTls?(): string | undefined; reloadKeys(): number },
  log: { info(line: string): void; error(line: string): void } = { info: (l) => console.log(l), error: (l) => console.error(l) },
): void {
  if (target.reloadTls) {
    try {
      const fingerprint = target.reloadTls();
      if (fingerprint) log.info(`census ${name}: TLS certificate reloaded (SHA-256 ${fingerprint})`);
    } catch (err) {
      log.error(`census ${name}: TLS certificate NOT reloaded, the one in use stays: ${(err as Error).message}`);
    }
  }
  try {
    log.info(`census ${name}: secret keys reloaded (current key ${target.reloadKeys()})`);
  } catch (err) {
    log.error(`census ${name}: secret keys NOT reloaded, the ones in use stay: ${(err as Error).message}`);
  }
}

function reloadOnSighup(name: string, target: Parameters<typeof reloadFiles>[1]): void {
  // A listener also keeps SIGHUP from ending the process, which is Node's default.
  process.on('SIGHUP', () => {
    console.log(`census ${name}: SIGHUP received, reloading files`);
    reloadFiles(name, target);
  });
}

export async function server(args: string[]): Promise<void> {
  const config = readConfig(args);
  if (!config) return;
  privateUmask();
  const census = await startCensus(config);
  console.log(`Census is listening on ${census.url}  (data: ${config.dataDir}, database: ${config.database ? 'PostgreSQL' : 'SQLite'})`);
  if (census.initialAdminPassword) {
    console.log('');
    console.log('  First start: an admin user was created.');
    console.log(`    user:     admin`);
    console.log(`    password: ${census.initialAdminPassword}`);
    console.log(`  This is shown once; it is also in ${config.dataDir}/initial-admin-password (readable only by you).`);
    console.log('');
  }
  stopOnSignals('server', census.stop);
  reloadOnSighup('server', census);
}

export async function worker(args: string[]): Promise<void> {
  const config = readConfig(args);
  if (!config) return;
  privateUmask();
  const w = await startWorker(config);
  console.log(`Census worker ${w.engine.processName} is taking tasks (concurrency ${config.concurrency}, site ${config.site ?? 'Primary'})`);
  stopOnSignals('worker', w.stop);
  reloadOnSighup('worker', w);
}
