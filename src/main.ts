/**
 * The composition root: configuration → store → engine → API. The only module that knows which
 * concrete adapters (SQLite or PostgreSQL, in-process queue, collectors) make up a running Census.
 */
import { createServices, Scheduler } from './services/index.ts';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import type { Server as TlsServer } from 'node:tls';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { DEFAULT_LOGIN_POLICY, type LoginPolicy } from './services/auth.ts';
import type { HttpLimits } from './api/http-limits.ts';
import { normalizePublicUrl } from './api/links.ts';
// What `census server`'s options need to know of the API (src/serve.ts imports only this module).
export { DEFAULT_HTTP_LIMITS, type HttpLimits } from './api/http-limits.ts';
export { normalizePublicUrl };
import { buildApi } from './api/server.ts';
import type { Collector } from './collectors/types.ts';
import { collectorInfos, collectorRegistry } from './collectors/registry.ts';
import { systemActor } from './core/actor.ts';
import { systemClock, type Clock } from './core/clock.ts';
import { ALL_RESOURCES_POOL, SUPERUSER_ROLE_ID } from './core/permissions.ts';
import { DEFAULT_SITE_NAME } from './core/sites.ts';
import { generatePassword, hashPassword } from './core/password.ts';
import { SecretBox } from './core/secret-box.ts';
import { Engine } from './engine/engine.ts';
import { PgBossQueue } from './engine/pgboss-queue.ts';
import { PgProcessLiveness } from './engine/process-lock.ts';
import { InProcessQueue, wakeOnTasks, type TaskQueue } from './engine/queue.ts';
import { webhookChannel } from './engine/delivery/webhook.ts';
import { EmailChannel } from './engine/delivery/email.ts';
import { nextFireTime, validateSchedule } from './engine/schedule.ts';
import { DELIVERY_JOB_ID, HYPERVISOR_INVENTORY_JOB_ID, INVENTORY_JOB_ID, MAINTENANCE_JOB_ID } from './engine/system-jobs.ts';
import type { ChangeFeed } from './store/change-feed.ts';
import { Store } from './store/index.ts';
import { createPrivateFile, makeDataDirPrivate } from './store/data-dir.ts';
import { loadOrCreateKeys } from './store/keyfile.ts';

export interface CensusConfig {
  dataDir: string;
  /** postgres://… ; default: SQLite in the data dir. */
  database?: string;
  /** PostgreSQL schema (tests). */
  schema?: string;
  port: number;
  host: string;
  /** The URL clients reach this server by (behind a proxy): every link starts with it (src/api/links.ts). */
  publicUrl?: string;
  /** Serve plain HTTP (behind a TLS-terminating proxy, or in tests). */
  http: boolean;
  /** The operator's certificate and key (PEM files), instead of the data dir's self-signed pair: both or neither. */
  tlsCert?: string;
  tlsKey?: string;
  /** Parallel inventory tasks in this process. */
  concurrency: number;
  taskTimeoutMs: number;
  retries: number;
  retryDelayMs: number;
  /** Daily time and zone of the inventory trigger, if the operator set one. */
  inventorySchedule?: { time: string; timezone?: string };
  adminPassword?: string;
  secretKey?: string;
  clock?: Clock;
  /** The collectors by type (default: COLLECTORS, src/collectors/registry.ts); tests pass their own through collectorRegistry(list). */
  collectors?: ReadonlyMap<string, Collector>;
  loginPolicy?: LoginPolicy;
  /** Run the scheduler loop (tests drive tick() themselves). */
  scheduler: boolean;
  /** On PostgreSQL, let this server run tasks too (default: workers do). */
  withWorker?: boolean;
  /** pg-boss's schema (default census_queue). */
  queueSchema?: string;
  /** How long a task's claim holds without renewal before another process takes it over. */
  leaseMs?: number;
  /** Tasks running at once across all processes (default: no limit). */
  estateConcurrency?: number;
  /**
   * A worker started after another on the same machine takes tasks only while the machine's CPUs
   * are less busy than this share (0–1; default 0.75; 1: as if alone; engine/pgboss-queue.ts).
   */
  sharedHostCpu?: number;
  quiet?: boolean;
  /** Request deadlines and connection bounds of the API (src/api/http-limits.ts). */
  limits?: Partial<HttpLimits>;
  /** Lets Prometheus read /metrics with `Authorization: Bearer <token>` instead of a login session. */
  metricsToken?: string;
  /** The site (by name) whose servers' tasks this process takes when it runs tasks (default "Primary"; docs/sites.md). */
  site?: string;
  /** Back-off after a notification delivery's first failed attempt, and its longest (ms; default 10 s and 1 h; docs/notifications.md). */
  deliveryRetryMs?: number;
  deliveryRetryMaxMs?: number;
}

export const DEFAULT_CONFIG: Omit<CensusConfig, 'dataDir'> = {
  port: 8443,
  host: '127.0.0.1',
  http: false,
  concurrency: 8,
  taskTimeoutMs: 60_000,
  retries: 2,
  retryDelayMs: 1_000,
  scheduler: true,
};

export interface Census {
  app: FastifyInstance;
  store: Store;
  engine: Engine;
  scheduler: Scheduler;
  url: string;
  /** The admin password when this start created the admin user. */
  initialAdminPassword?: string;
  /**
   * Reads the TLS certificate and key files again; new connections get them, open ones keep
   * theirs (SIGHUP). Throws, keeping the certificate in use, when the files are not a good pair.
   * Returns the new certificate's SHA-256 fingerprint, or undefined on plain HTTP.
   */
  reloadTls(): string | undefined;
  /** Reads the key file again (SIGHUP); throws, keeping the keys it had, when it cannot. Returns the current key id. */
  reloadKeys(): number;
  stop(): Promise<void>;
}

/** The collectors by type (src/collectors/registry.ts lists them). */
export const COLLECTORS: ReadonlyMap<string, Collector> = collectorRegistry();

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return '0.0.0';
  }
}

/** This machine's first address other than loopback (what /api/vadp shows as a worker's ipAddr). */
function ownAddress(): string | null {
  const all = Object.values(networkInterfaces()).flatMap((list) => list ?? []);
  const pick = all.find((a) => !a.internal && a.family === 'IPv4') ?? all.find((a) => !a.internal) ?? all.find((a) => a.family === 'IPv4');
  return pick?.address ?? null;
}

/** Creates the admin user on first start; its password is shown once and kept in a file only the owner can read. */
async function ensureAdmin(store: Store, config: CensusConfig, clock: Clock): Promise<string | undefined> {
  if (await store.users.byName('admin')) return undefined;
  const password = config.adminPassword || generatePassword();
  const hash = await hashPassword(password);
  await store.transaction(async (r) => {
    const admin = await r.users.create('admin', hash, clock.now());
    await r.permissionSets.set(admin.id, [{ roleId: SUPERUSER_ROLE_ID, poolId: ALL_RESOURCES_POOL.id }]);
  });
  if (config.adminPassword) return undefined;
  const file = join(config.dataDir, 'initial-admin-password');
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return password;
}

interface Runtime {
  config: CensusConfig;
  clock: Clock;
  store: Store;
  secrets: SecretBox;
  engine: Engine;
  /** The web UI's address for links in e-mail when the SMTP server sets none: --public-url, else (a server) its own address once it listens. */
  ui: { base: string | undefined };
  /** The engine's task queue (told of messages other processes put in: wakeOnTasks). */
  queue: TaskQueue;
}

/**
 * What a server and a worker share: the store, the key that opens stored credentials, and an
 * engine on the queue that fits the database (in-process on SQLite, pg-boss on PostgreSQL).
 */
async function openRuntime(partial: Partial<CensusConfig> & { dataDir: string }, role: 'server' | 'worker'): Promise<Runtime> {
  const config: CensusConfig = { ...DEFAULT_CONFIG, ...partial };
  const clock = config.clock ?? systemClock;
  // Owner-only at every start, before anything is read or written there (src/store/data-dir.ts).
  makeDataDirPrivate(config.dataDir);
  const sqliteFile = config.database ? undefined : join(config.dataDir, 'census.db');
  // Born 0600, so that SQLite's -wal and -shm, which take the database file's mode, are too.
  if (sqliteFile) createPrivateFile(sqliteFile);
  // On PostgreSQL each running task holds a connection through its transactions: a pool smaller
  // than the task slots (it was 10 for 16) left slots waiting for a connection, not for work.
  // The rest is for heartbeats, progress counts and, on the server, the API.
  const poolSize = Math.max(10, config.concurrency + 6);
  const store = await Store.open({ url: config.database ?? sqliteFile!, poolSize, ...(config.schema ? { schema: config.schema } : {}) });
  // The key file can change under a running process (census rotate-key): the box follows it.
  const keys = loadOrCreateKeys(config.dataDir, config.secretKey);
  const secrets = SecretBox.fromRing(keys.ring, keys.source);
  // Once more, now that SQLite made its -wal and -shm: they take census.db's mode, and this pass
  // checks that rather than trusting it.
  makeDataDirPrivate(config.dataDir);
  // A process that runs tasks is a worker of one site (docs/sites.md); an unknown site stops the start.
  const runsTasks = role === 'worker' || store.dialect === 'sqlite' || Boolean(config.withWorker);
  const site = await store.sites.byName(config.site ?? DEFAULT_SITE_NAME);
  if (!site) {
    const known = (await store.sites.all()).map((s) => `"${s.name}"`).join(', ');
    await store.close();
    throw new Error(`--site: there is no site named "${config.site}" (sites: ${known}); create it first (POST /api/site) or leave --site out for "${DEFAULT_SITE_NAME}".`);
  }
  const queue = store.dialect === 'postgres'
    ? new PgBossQueue({
        connectionString: config.database!,
        schema: config.queueSchema ?? (config.schema ? `${config.schema}_queue` : 'census_queue'),
        concurrency: config.concurrency,
        siteId: site.id,
        ...(config.sharedHostCpu !== undefined ? { sharedHostCpu: config.sharedHostCpu } : {}),
        tell: store.changeChannel,
      })
    : new InProcessQueue(config.concurrency);
  const ui = { base: config.publicUrl };
  const engine = new Engine({
    store, clock, queue, secrets, collectors: config.collectors ?? COLLECTORS,
    taskTimeoutMs: config.taskTimeoutMs, retries: config.retries, retryDelayMs: config.retryDelayMs,
    ...(config.leaseMs ? { leaseMs: config.leaseMs, heartbeatMs: Math.max(100, Math.floor(config.leaseMs / 6)), sweepMs: Math.max(100, Math.floor(config.leaseMs / 6)) } : {}),
    ...(config.estateConcurrency ? { estateConcurrency: config.estateConcurrency } : {}),
    // Where notifications go (docs/notifications.md).
    channels: [webhookChannel({ store, secrets, clock }), new EmailChannel({ store, secrets, uiBase: () => ui.base })],
    ...(config.deliveryRetryMs ? { deliveryRetryMs: config.deliveryRetryMs } : {}),
    ...(config.deliveryRetryMaxMs ? { deliveryRetryMaxMs: config.deliveryRetryMaxMs } : {}),
    processName: `${role}@${hostname()}:${process.pid}`,
    // On PostgreSQL other processes see this one die from the database (an advisory lock it holds).
    ...(store.dialect === 'postgres' ? { liveness: new PgProcessLiveness(config.database!) } : {}),
    ...(runsTasks ? { worker: { siteId: site.id, version: packageVersion(), address: role === 'server' && config.host !== '0.0.0.0' && config.host !== '::' ? config.host : ownAddress() } } : {}),
  });
  return { config, clock, store, secrets, engine, ui, queue };
}

export async function startCensus(partial: Partial<CensusConfig> & { dataDir: string }): Promise<Census> {
  // A bad public URL is refused before anything is opened.
  if (partial.publicUrl !== undefined) partial = { ...partial, publicUrl: normalizePublicUrl(partial.publicUrl) };
  // So is the operator's certificate that is not a good pair (each message names the file).
  if ((partial.tlsCert === undefined) !== (partial.tlsKey === undefined)) throw new Error('--tls-cert and --tls-key go together: give both or neither');
  const ownPaths = partial.tlsCert !== undefined && partial.tlsKey !== undefined && !partial.http ? { cert: partial.tlsCert, key: partial.tlsKey } : undefined;
  const ownTls = ownPaths && (await import('./store/certificate.ts')).readCertificatePair(ownPaths.cert, ownPaths.key);
  const { config, clock, store, secrets, engine, ui, queue } = await openRuntime(partial, 'server');
  const initialAdminPassword = await ensureAdmin(store, config, clock);
  // On SQLite this process is the only one: it runs the tasks. On PostgreSQL `census worker`
  // processes do, unless this server is asked to work too.
  const runTasks = store.dialect === 'sqlite' || config.withWorker;
  const firstStart = (await store.jobs.get(INVENTORY_JOB_ID)) === undefined;
  await engine.init({ exclusive: store.dialect === 'sqlite' });
  if (config.inventorySchedule) {
    const s = validateSchedule(config.inventorySchedule);
    // Only a changed time moves the trigger: restarting with the same flags keeps the next fire
    // time, so a run missed while Census was down is still found (docs/scheduling.md).
    const current = (await store.jobs.get(INVENTORY_JOB_ID))?.schedule;
    if (current?.time !== s.time || current?.timezone !== s.timezone) await store.jobs.setSchedule(INVENTORY_JOB_ID, s, nextFireTime(s, clock.now()));
  }
  engine.start({ runTasks });
  // On PostgreSQL the API's caches (job status, login sessions) follow every process's writes;
  // without the listener this server caches nothing there, and is only slower.
  const feed = await listenForChanges(store, 'not caching reads');
  if (runTasks) wakeOnTasks(feed, queue);
  const collectors = collectorInfos(partial.collectors ?? COLLECTORS);
  const services = createServices({ store, engine, clock, secrets, collectors }, { auth: { policy: config.loginPolicy ?? DEFAULT_LOGIN_POLICY }, host: { dataDir: config.dataDir } });
  if (firstStart) {
    // Run the system jobs once, for real, so every job has a `lastrun` from the start: SPP's
    // clients read job.lastrun without checking that it exists (docs/compat.md).
    for (const id of [MAINTENANCE_JOB_ID, INVENTORY_JOB_ID, HYPERVISOR_INVENTORY_JOB_ID]) {
      const { session } = await services.jobs.start(systemActor('census'), id, 'first-start');
      if (runTasks) await engine.waitForSession(session.id, 60_000);
    }
  }
  // Notification Delivery (1006) came later than the others: its first run, with nothing to
  // deliver, gives it a `lastrun` too, on a new database and on one from before it alike.
  if ((await store.jobs.get(DELIVERY_JOB_ID))?.lastSessionId == null) {
    const { session } = await services.jobs.start(systemActor('census'), DELIVERY_JOB_ID, 'first-start');
    await engine.waitForSession(session.id, 60_000);
  }
  const scheduler = new Scheduler({ store, clock }, services.jobs);
  if (config.scheduler) scheduler.start();

  let https: { key: string; cert: string } | undefined;
  let readTls: (() => { key: string; cert: string; fingerprint256: string }) | undefined;
  if (!config.http) {
    // Loaded only for HTTPS: generating a certificate pulls in selfsigned.
    const { dataDirCertificatePaths, loadOrCreateCertificate, readCertificatePair } = await import('./store/certificate.ts');
    const tls = ownTls ?? (await loadOrCreateCertificate(config.dataDir, [config.host]));
    https = { key: tls.key, cert: tls.cert };
    // SIGHUP reads the same files again: the operator's, or the data dir's pair.
    const paths = ownPaths ?? dataDirCertificatePaths(config.dataDir);
    readTls = () => readCertificatePair(paths.cert, paths.key);
  }
  const app = buildApi(
    { services, clock, collectors, version: { version: packageVersion(), build: 'census' },
      ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}) },
    {
      ...(https ? { https } : {}),
      ...(config.limits ? { limits: config.limits } : {}),
      ...(config.metricsToken ? { metricsToken: config.metricsToken } : {}),
    },
  );
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `${config.http ? 'http' : 'https'}://${host}:${port}`;
  ui.base ??= url;

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      scheduler.stop();
      services.hostMetrics.stop();
      await app.close();
      await engine.stop();
      await store.close();
    })());
  const reloadTls = () => {
    if (!readTls) return undefined;
    const tls = readTls();
    // Only connections made from now on: a TLS session already set up keeps its context.
    (app.server as unknown as TlsServer).setSecureContext({ key: tls.key, cert: tls.cert });
    return tls.fingerprint256;
  };
  return { app, store, engine, scheduler, url, ...(initialAdminPassword ? { initialAdminPassword } : {}), reloadTls, reloadKeys: () => secrets.reload(), stop };
}

export interface Worker {
  store: Store;
  engine: Engine;
  /** As Census.reloadKeys (SIGHUP). */
  reloadKeys(): number;
  stop(): Promise<void>;
}

/** A worker: takes tasks from the PostgreSQL queue and runs them; serves no API. */
/**
 * The store's change feed (PostgreSQL; undefined on SQLite). A process that cannot listen still
 * runs, without what the feed gives it: `without` says what that is, in the warning.
 */
async function listenForChanges(store: Store, without: string): Promise<ChangeFeed | undefined> {
  return store.listenForChanges().catch((err: unknown) => {
    console.warn(`census: ${without}: cannot listen for changes on PostgreSQL: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  });
}

export async function startWorker(partial: Partial<CensusConfig> & { dataDir: string }): Promise<Worker> {
  if (!partial.database || !/^postgres(ql)?:\/\//.test(partial.database)) {
    throw new Error('census worker needs --database postgres://…: on the embedded SQLite default the server runs the tasks itself.');
  }
  const { store, engine, secrets, clock, queue } = await openRuntime(partial, 'worker');
  await engine.init({ exclusive: false });
  engine.start({ runTasks: true });
  wakeOnTasks(await listenForChanges(store, 'polling for tasks only'), queue);
  // A worker fires no triggers, but its schedule watchdog still says so when no server does
  // (docs/scheduling.md).
  const watchdog = new Scheduler({ store, clock }, { start: () => Promise.reject(new Error('a worker starts no scheduled jobs')) });
  if (partial.scheduler !== false) watchdog.startWatchdog();
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      watchdog.stop();
      await engine.stop();
      await store.close();
    })());
  return { store, engine, reloadKeys: () => secrets.reload(), stop };
}
