/**
 * Runs the Redis collector against the machine's Redis (127.0.0.1:6379, default user without a
 * password) and against throwaway redis-server processes for what the shared one must not be
 * changed for: a password, persistence settings, replication, cluster mode and TLS. Keys and ACL
 * users made on the shared server carry a random suffix and are removed afterwards.
 */

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { failure, options } from '../../../test/support/collectors.ts';
import { freePort, startRedis, type RedisProcess } from '../../../test/support/redis-server.ts';
import { silentListener } from '../../../test/support/silent-listener.ts';
import type { CollectedInstance, CollectTarget, ConnectionCheck } from '../types.ts';
import { classifyRedisError } from './errors.ts';
import { redisCollector } from './index.ts';
import { keyspaces, parseInfo, findings as readinessFindings } from './inventory.ts';
import { parseReply, RedisReplyError, RespProtocolError } from './resp.ts';

const HOST = '127.0.0.1';
const PORT = 6379;
const suffix = randomBytes(4).toString('hex');
/** A database index of our own on the shared server; keys carry the suffix so parallel runs do not collide. */
const DB = 13;
const keyPrefix = `census:t:${suffix}`;
const aclUser = `census_t_${suffix}`;
const aclPassword = `pw-${suffix}-Secret`;
const limitedUser = `census_t_${suffix}_limited`;
const requirePassword = `rp-${suffix}-Secret`;

/** Privileges the docs give an inventory login: everything the collector runs. */
const INVENTORY_ACL = ['+ping', '+info', '+config|get', '+acl|users', '+cluster|info', '+client|setname'];

const target = (over: Partial<CollectTarget> = {}): CollectTarget => ({
  name: 'cache1',
  host: HOST,
  port: PORT,
  username: '',
  password: null,
  ...over,
});

/** redis-cli against the shared server (or `port`): setup and the expected values, by another client than ours. */
function cli(args: string[], port = PORT): string {
  return execFileSync('redis-cli', ['-h', HOST, '-p', String(port), ...args], { encoding: 'utf8' }).trim();
}

function configValue(name: string, port = PORT): string {
  return cli(['CONFIG', 'GET', name], port).split('\n')[1] ?? '';
}

function infoField(field: string, port: number): string | undefined {
  return parseInfo(cli(['INFO'], port)).get(field);
}

/**
 * Poll until `probe` gives a value (test/support/server.ts has the same helper, but importing it
 * would start pulling in the whole application for a collector test).
 */
async function until<T>(probe: () => T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const codes = (instance: CollectedInstance) => (instance.findings ?? []).map((f) => f.code).sort();
const statuses = (checks: ConnectionCheck[]) => Object.fromEntries(checks.map((c) => [c.name, c.status]));

/** Local listeners and processes, all torn down in afterAll. */
const listeners: net.Server[] = [];
const processes: RedisProcess[] = [];

async function listen(onSocket: (socket: net.Socket) => void): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    onSocket(socket);
  });
  listeners.push(server);
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return (server.address() as net.AddressInfo).port;
}

async function redis(args: string[] = [], opts: { tlsPort?: boolean } = {}): Promise<RedisProcess> {
  const server = await startRedis(args, opts);
  processes.push(server);
  return server;
}

beforeAll(() => {
  cli(['-n', String(DB), 'SET', `${keyPrefix}:plain`, 'v']);
  cli(['-n', String(DB), 'SET', `${keyPrefix}:a`, 'v', 'EX', '600']);
  cli(['-n', String(DB), 'SET', `${keyPrefix}:b`, 'v', 'EX', '600']);
  cli(['ACL', 'SETUSER', aclUser, 'reset', 'on', `>${aclPassword}`, ...INVENTORY_ACL]);
  cli(['ACL', 'SETUSER', limitedUser, 'reset', 'on', `>${aclPassword}`, '+ping', '+info']);
});

afterAll(async () => {
  cli(['-n', String(DB), 'DEL', `${keyPrefix}:plain`, `${keyPrefix}:a`, `${keyPrefix}:b`]);
  cli(['ACL', 'DELUSER', aclUser, limitedUser]);
  for (const server of listeners) server.close();
  await Promise.all(processes.map((p) => p.stop()));
});

describe('redisCollector.collect against the machine Redis', () => {
  it('reads version, mode, persistence, memory, ACL users and the keyspaces', async () => {
    const result = await redisCollector.collect(target(), options());

    expect(result.instances).toHaveLength(1);
    const instance = result.instances[0]!;
    expect(instance).toMatchObject({ name: `${HOST}:${PORT}`, host: HOST, port: PORT });
    expect(instance.version).toBe(infoField('redis_version', PORT));
    expect(instance.properties).toMatchObject({ mode: 'standalone', role: 'master' });
    expect(instance.properties.replication).toMatchObject({ connectedReplicas: 0, replicas: [] });

    const save = configValue('save');
    const appendonly = configValue('appendonly') === 'yes';
    expect(instance.properties.persistence).toMatchObject({
      rdb: { saveRules: save, lastBgsaveStatus: 'ok', dir: configValue('dir'), fileName: configValue('dbfilename') },
      aof: { enabled: appendonly, lastWriteStatus: 'ok' },
    });
    const rdb = (instance.properties.persistence as { rdb: { lastSaveTime: string } }).rdb;
    expect(Date.parse(rdb.lastSaveTime)).toBeLessThanOrEqual(Date.now());

    const maxmemory = Number(configValue('maxmemory'));
    expect(instance.properties.memory).toMatchObject({ maxBytes: maxmemory, maxmemoryPolicy: configValue('maxmemory-policy') });
    expect((instance.properties.memory as { usedBytes: number }).usedBytes).toBeGreaterThan(0);
    // default and the two users of this run, at least.
    expect(instance.properties.aclUsers).toBeGreaterThanOrEqual(3);

    const db = instance.databases.find((d) => d.name === `db${DB}`)!;
    expect(db).toMatchObject({ sizeBytes: null, owner: null, encoding: null, properties: { index: DB } });
    const props = db.properties as { keys: number; expires: number; avgTtlMs: number };
    expect(props.keys).toBeGreaterThanOrEqual(3);
    expect(props.expires).toBeGreaterThanOrEqual(2);
    // Redis estimates avg_ttl in its expire cycle: 0 until that cycle has sampled the new keys.
    expect(props.avgTtlMs).toBeGreaterThanOrEqual(0);
    expect(props.avgTtlMs).toBeLessThanOrEqual(600_000);
    const indexes = instance.databases.map((d) => d.properties.index as number);
    expect(indexes).toEqual([...indexes].sort((a, b) => a - b));

    // The findings follow the server's settings, whatever they are here.
    const expected = [
      ...(save === '' && !appendonly ? ['NO_PERSISTENCE'] : []),
      ...(maxmemory === 0 ? ['NO_MAXMEMORY'] : []),
      ...(configValue('protected-mode') === 'no' ? ['PROTECTED_MODE_OFF'] : []),
    ].sort();
    expect(codes(instance)).toEqual(expected);
    expect(result.warnings).toEqual([]);
  });

  it('logs in and reads in one round trip: one write before the QUIT', async () => {
    // A forwarder in front of the machine Redis that counts what the collector writes: each
    // write it waits on an answer for arrives apart from the next.
    const writes: string[] = [];
    const relay = net.createServer((client) => {
      const upstream = net.connect(PORT, HOST);
      client.on('data', (chunk: Buffer) => {
        writes.push(chunk.toString('latin1'));
        upstream.write(chunk);
      });
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(0, HOST, resolve));
    try {
      const port = (relay.address() as net.AddressInfo).port;
      const result = await redisCollector.collect(target({ port, username: aclUser, password: aclPassword }), options());
      expect(result.instances[0]!.version).toMatch(/^\d+\./);
      expect(result.warnings).toEqual([]);
      expect(writes).toHaveLength(2);
      // The first carries AUTH and every read; the second is the QUIT.
      for (const command of ['AUTH', 'SETNAME', 'INFO', 'ACL', 'CONFIG']) expect(writes[0]).toContain(command);
      expect(writes[1]).toContain('QUIT');
    } finally {
      await new Promise((resolve) => relay.close(resolve));
    }
  });

  it('the default port is 6379', async () => {
    const result = await redisCollector.collect(target({ port: null }), options());
    expect(result.instances[0]).toMatchObject({ name: `${HOST}:6379`, port: 6379 });
  });

  it('logs in as an ACL user holding the documented privileges: no warnings', async () => {
    const result = await redisCollector.collect(target({ username: aclUser, password: aclPassword }), options());
    expect(result.warnings).toEqual([]);
    expect(result.instances[0]!.properties.aclUsers).toBeGreaterThanOrEqual(3);
    expect((result.instances[0]!.properties.persistence as { rdb: { saveRules: string } }).rdb.saveRules).toBe(configValue('save'));
  });

  it('an ACL user without CONFIG and ACL: warnings, not a failure, and no guessed persistence finding', async () => {
    const result = await redisCollector.collect(target({ username: limitedUser, password: aclPassword }), options());
    const instance = result.instances[0]!;
    expect(result.warnings).toHaveLength(2);
    expect(result.warnings[0]).toContain(`user "${limitedUser}" may not run CONFIG GET (grant it +config|get)`);
    expect(result.warnings[1]).toContain(`user "${limitedUser}" may not run ACL USERS (grant it +acl|users)`);
    expect(instance.properties.aclUsers).toBeNull();
    expect(instance.properties.persistence).toMatchObject({ rdb: { saveRules: null, dir: null } });
    expect(codes(instance)).not.toContain('NO_PERSISTENCE');
    expect(codes(instance)).not.toContain('PROTECTED_MODE_OFF');
    // maxmemory comes from INFO, so that finding stays.
    expect(codes(instance).includes('NO_MAXMEMORY')).toBe(configValue('maxmemory') === '0');
    // The keyspaces come from INFO too.
    expect(instance.databases.map((d) => d.name)).toContain(`db${DB}`);
  });

  it('a wrong ACL password is AUTH, naming the server and the user, never the password', async () => {
    const wrong = `${aclPassword}-wrong`;
    const err = await failure(redisCollector.collect(target({ username: aclUser, password: wrong }), options()));
    expect(err.code).toBe('AUTH');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(`user "${aclUser}"`);
    expect(err.message).toContain(`cache1 (${HOST}:${PORT})`);
    expect(err.message).not.toContain(wrong);
    expect(err.message).not.toContain(aclPassword);
  });

  it('a password the default user does not need: collected, with a warning', async () => {
    const result = await redisCollector.collect(target({ password: 'not-needed' }), options());
    expect(result.instances).toHaveLength(1);
    expect(result.warnings).toEqual([`cache1 (${HOST}:${PORT}) has no password set for the default user; the given password was not needed`]);
  });
});

describe('redisCollector.collect with requirepass, and the readiness findings', () => {
  let server: RedisProcess;
  beforeAll(async () => {
    // No persistence, no maxmemory, protected mode off: every instance-level finding at once.
    server = await redis(['--requirepass', requirePassword, '--protected-mode', 'no', '--maxmemory', '0']);
  });

  it('AUTH with the password alone, as the default user named or not', async () => {
    for (const username of ['', 'default']) {
      const result = await redisCollector.collect(target({ port: server.port, username, password: requirePassword }), options());
      const instance = result.instances[0]!;
      expect(instance.name).toBe(`${HOST}:${server.port}`);
      expect(codes(instance)).toEqual(['NO_MAXMEMORY', 'NO_PERSISTENCE', 'PROTECTED_MODE_OFF']);
      expect(instance.properties.persistence).toMatchObject({ rdb: { saveRules: '' }, aof: { enabled: false } });
      expect(instance.databases).toEqual([]);
      for (const finding of instance.findings!) expect(finding.message).toContain(`cache1 (${HOST}:${server.port})`);
      expect(result.warnings).toEqual([]);
    }
  });

  it('a wrong password is AUTH with a clear message naming the server', async () => {
    const wrong = 'definitely-wrong';
    const err = await failure(redisCollector.collect(target({ port: server.port, password: wrong }), options()));
    expect(err.code).toBe('AUTH');
    expect(err.message).toBe(
      `authentication failed for user "default" on cache1 (${HOST}:${server.port}): wrong password, no such user, or the user is disabled`,
    );
  });

  it('no password where one is required is AUTH', async () => {
    const err = await failure(redisCollector.collect(target({ port: server.port }), options()));
    expect(err.code).toBe('AUTH');
    expect(err.message).toBe(`cache1 (${HOST}:${server.port}) requires a password and none was given`);
  });

  it('persistence and a memory limit: no findings, the settings reported', async () => {
    const safe = await redis(['--save', '900 1', '--appendonly', 'yes', '--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
    const instance = (await redisCollector.collect(target({ port: safe.port }), options())).instances[0]!;
    expect(codes(instance)).toEqual([]);
    expect(instance.properties.persistence).toMatchObject({
      rdb: { saveRules: '900 1', dir: safe.dir, fileName: 'dump.rdb' },
      aof: { enabled: true, lastWriteStatus: 'ok', fsync: 'everysec' },
    });
    expect(instance.properties.memory).toMatchObject({ maxBytes: 64 * 1024 * 1024, maxmemoryPolicy: 'allkeys-lru' });
  });
});

describe('redisCollector on a server with CONFIG renamed away (as managed Redis does)', () => {
  it('collects with a warning and without the findings that need the settings; the test warns', async () => {
    const managed = await redis(['--rename-command', 'CONFIG', '']);
    const result = await redisCollector.collect(target({ port: managed.port }), options());
    expect(result.warnings).toEqual([
      `settings of cache1 (${HOST}:${managed.port}) (save rules, protected-mode, dir) not read: CONFIG is renamed or disabled on this server (as on most managed Redis services)`,
    ]);
    const instance = result.instances[0]!;
    expect(instance.properties.persistence).toMatchObject({ rdb: { saveRules: null, lastBgsaveStatus: 'ok' }, aof: { enabled: false } });
    // Persistence and protected mode are unknown, maxmemory is in INFO.
    expect(codes(instance)).toEqual(['NO_MAXMEMORY']);

    const checks = await redisCollector.test(target({ port: managed.port }), options());
    expect(statuses(checks)).toMatchObject({ info: 'SUCCESS', config: 'WARNING', acl: 'SUCCESS' });
  });
});

describe('redisCollector.collect on a replica, and on a cluster node', () => {
  it('a master with a replica; the replica; then REPLICA_LAG once its master is gone', async () => {
    // No 5 s wait for more replicas before a diskless sync: there is only this one.
    const master = await redis(['--repl-diskless-sync-delay', '0']);
    const replica = await redis(['--replicaof', HOST, String(master.port)]);
    await until(() => (infoField('master_link_status', replica.port) === 'up' ? true : undefined), 'the replica to sync');
    await until(() => (infoField('slave0', master.port)?.includes('state=online') ? true : undefined), 'the master to see it online');

    const fromMaster = (await redisCollector.collect(target({ port: master.port }), options())).instances[0]!;
    expect(fromMaster.properties).toMatchObject({ mode: 'standalone', role: 'master' });
    expect(fromMaster.properties.replication).toMatchObject({
      connectedReplicas: 1,
      replicas: [{ address: `${HOST}:${replica.port}`, state: 'online' }],
    });

    const fromReplica = (await redisCollector.collect(target({ port: replica.port }), options())).instances[0]!;
    expect(fromReplica.properties).toMatchObject({ mode: 'replica', role: 'replica' });
    expect(fromReplica.properties.replication).toMatchObject({ masterAddress: `${HOST}:${master.port}`, masterLinkStatus: 'up' });
    expect(codes(fromReplica)).not.toContain('REPLICA_LAG');

    await master.stop();
    await until(() => (infoField('master_link_status', replica.port) === 'down' ? true : undefined), 'the link to go down');
    const orphan = (await redisCollector.collect(target({ port: replica.port }), options())).instances[0]!;
    expect(orphan.properties.replication).toMatchObject({ masterLinkStatus: 'down' });
    const lag = orphan.findings!.find((f) => f.code === 'REPLICA_LAG');
    expect(lag?.message).toContain(`replica cache1 (${HOST}:${replica.port}) has lost its link to master ${HOST}:${master.port}`);
  });

  it('a cluster node is mode cluster, with the cluster state', async () => {
    // The nodes file goes into the node's own --dir (Redis works there), removed with it.
    const node = await redis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf']);
    const result = await redisCollector.collect(target({ port: node.port }), options());
    const instance = result.instances[0]!;
    expect(instance.properties).toMatchObject({ mode: 'cluster', role: 'master' });
    // A lone node without slots: the cluster is not serving.
    expect(instance.properties.cluster).toMatchObject({ state: 'fail', knownNodes: 1, slotsAssigned: 0 });
    expect(result.warnings).toEqual([]);
  });
});

describe('redisCollector over TLS', () => {
  let tlsServer: RedisProcess;
  const scratch = mkdtempSync(join(tmpdir(), 'census-redis-tls-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  beforeAll(async () => {
    const pems = await generate([{ name: 'commonName', value: 'census-test-redis' }], {
      keyType: 'rsa',
      keySize: 2048,
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: HOST }] }],
    });
    const cert = join(scratch, 'cert.pem');
    const key = join(scratch, 'key.pem');
    writeFileSync(cert, pems.cert);
    writeFileSync(key, pems.private);
    tlsServer = await redis(['--tls-cert-file', cert, '--tls-key-file', key, '--tls-auth-clients', 'no'], { tlsPort: true });
  });

  it('require: encrypted, any certificate', async () => {
    const result = await redisCollector.collect(target({ port: tlsServer.port, tls: 'require' }), options());
    expect(result.instances[0]!.version).toBe(infoField('redis_version', PORT));
  });

  it('verify: a self-signed certificate is a TLS error naming the server', async () => {
    const err = await failure(redisCollector.collect(target({ port: tlsServer.port, tls: 'verify' }), options()));
    expect(err.code).toBe('TLS');
    expect(err.message).toContain(`cache1 (${HOST}:${tlsServer.port})`);
    expect(err.message).toContain('SELF_SIGNED');
  });

  it('plain text to a TLS port is PROTOCOL, hinting at TLS', async () => {
    const err = await failure(redisCollector.collect(target({ port: tlsServer.port }), options()));
    expect(err.code).toBe('PROTOCOL');
    expect(err.message).toContain('or it expects TLS');
  });

  it('TLS to a plain server: the server waits for a line that never comes, so TIMEOUT, saying the handshake never completed', async () => {
    const err = await failure(redisCollector.collect(target({ tls: 'require' }), options({ timeoutMs: 1000 })));
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toContain('the TLS handshake never completed (does that port serve TLS?)');
  });
});

describe('redisCollector.collect when the server is not there or not Redis', () => {
  it('a server that accepts and never answers fails at the deadline without holding up another run', async () => {
    const silent = await silentListener();
    try {
      const started = Date.now();
      let otherDoneAt = 0;
      const [hung, other] = await Promise.allSettled([
        redisCollector.collect(target({ port: silent.port }), options({ timeoutMs: 1500 })),
        redisCollector.collect(target(), options()).then((r) => {
          otherDoneAt = Date.now();
          return r;
        }),
      ]);
      const elapsed = Date.now() - started;
      expect(other.status).toBe('fulfilled');
      expect(otherDoneAt - started).toBeLessThan(1000);
      expect(hung.status).toBe('rejected');
      const err = (hung as PromiseRejectedResult).reason as Error & { code: string };
      expect(err.code).toBe('TIMEOUT');
      expect(err.message).toBe(`collection from Redis server cache1 (${HOST}:${silent.port}) did not finish within 1500 ms`);
      expect(elapsed).toBeGreaterThanOrEqual(1400);
      expect(elapsed).toBeLessThan(3000);
    } finally {
      await silent.close();
    }
  });

  it('a refused port is REFUSED and retryable', async () => {
    const port = await freePort();
    const err = await failure(redisCollector.collect(target({ port }), options()));
    expect(err.code).toBe('REFUSED');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain(`cache1 (${HOST}:${port})`);
  });

  it('an abort is CANCELLED, promptly; an aborted signal does not even connect', async () => {
    const silent = await silentListener();
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const started = Date.now();
      const err = await failure(redisCollector.collect(target({ port: silent.port }), options({ signal: controller.signal })));
      expect(err.code).toBe('CANCELLED');
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await silent.close();
    }
    let connections = 0;
    const port = await listen(() => connections++);
    const aborted = new AbortController();
    aborted.abort();
    const err = await failure(redisCollector.collect(target({ port }), options({ signal: aborted.signal })));
    expect(err.code).toBe('CANCELLED');
    expect(connections).toBe(0);
  });

  it('another protocol (an SSH banner, an HTTP answer) is PROTOCOL, at once, showing what answered', async () => {
    const ssh = await listen((socket) => socket.write('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'));
    const started = Date.now();
    const err = await failure(redisCollector.collect(target({ port: ssh }), options()));
    expect(err.code).toBe('PROTOCOL');
    expect(err.message).toContain('is not a Redis server: it answered "SSH-2.0-OpenSSH');
    const http = await listen((socket) => socket.on('data', () => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
    const err2 = await failure(redisCollector.collect(target({ port: http }), options()));
    expect(err2.code).toBe('PROTOCOL');
    expect(err2.message).toContain('HTTP/1.1 400');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('a peer that hangs up at once is PROTOCOL', async () => {
    const port = await listen((socket) => socket.destroy());
    const err = await failure(redisCollector.collect(target({ port }), options()));
    expect(err.code).toBe('PROTOCOL');
  });
});

describe('redisCollector.test', () => {
  const names = redisCollector.info.checks.map((c) => c.name);

  it('answers exactly the checks its info declares; all pass on the machine Redis', async () => {
    const checks = await redisCollector.test(target(), options());
    expect(checks.map((c) => c.name)).toEqual(names);
    expect(names).toEqual(['connect', 'login', 'info', 'config', 'acl']);
    expect(statuses(checks)).toEqual({ connect: 'SUCCESS', login: 'SUCCESS', info: 'SUCCESS', config: 'SUCCESS', acl: 'SUCCESS' });
    expect(checks.find((c) => c.name === 'info')!.message).toBe(`Redis ${infoField('redis_version', PORT)}, standalone, master`);
    for (const check of checks) expect(check.description).toBe(redisCollector.info.checks.find((c) => c.name === check.name)!.description);
  });

  it('an ACL user with the documented privileges passes every check', async () => {
    const checks = await redisCollector.test(target({ username: aclUser, password: aclPassword }), options());
    expect(statuses(checks)).toEqual({ connect: 'SUCCESS', login: 'SUCCESS', info: 'SUCCESS', config: 'SUCCESS', acl: 'SUCCESS' });
    expect(checks[1]!.message).toBe(`logged in to cache1 (${HOST}:${PORT}) as user "${aclUser}"`);
  });

  it('a user without CONFIG and ACL: two warnings saying what to grant', async () => {
    const checks = await redisCollector.test(target({ username: limitedUser, password: aclPassword }), options());
    expect(statuses(checks)).toEqual({ connect: 'SUCCESS', login: 'SUCCESS', info: 'SUCCESS', config: 'WARNING', acl: 'WARNING' });
    expect(checks.find((c) => c.name === 'config')!.message).toContain('+config|get');
    expect(checks.find((c) => c.name === 'acl')!.message).toContain('+acl|users');
  });

  it('wrong password: connect succeeds, login fails, the rest is skipped', async () => {
    const server = await redis(['--requirepass', requirePassword]);
    const wrong = 'wrong-one';
    const checks = await redisCollector.test(target({ port: server.port, password: wrong }), options());
    expect(statuses(checks)).toEqual({ connect: 'SUCCESS', login: 'FAILED', info: 'SKIPPED', config: 'SKIPPED', acl: 'SKIPPED' });
    expect(checks[1]!.message).toContain('authentication failed for user "default"');
    for (const check of checks) expect(check.message ?? '').not.toContain(wrong);

    const right = await redisCollector.test(target({ port: server.port, password: requirePassword }), options());
    expect(Object.values(statuses(right))).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS']);
  });

  it('refused, and silent: connect fails within the budget, the rest is skipped', async () => {
    const refused = await redisCollector.test(target({ port: await freePort() }), options());
    expect(statuses(refused)).toEqual({ connect: 'FAILED', login: 'SKIPPED', info: 'SKIPPED', config: 'SKIPPED', acl: 'SKIPPED' });
    expect(refused[0]!.message).toContain('connection refused');

    const silent = await silentListener();
    try {
      const started = Date.now();
      const hung = await redisCollector.test(target({ port: silent.port }), options({ timeoutMs: 500 }));
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(hung[0]).toMatchObject({ name: 'connect', status: 'FAILED' });
      expect(hung[0]!.message).toContain('did not finish within 500 ms');
      expect(hung.slice(1).every((c) => c.status === 'SKIPPED')).toBe(true);
    } finally {
      await silent.close();
    }
  });
});

describe('RESP parsing and error mapping', () => {
  it('parses replies, and waits for the rest of a split one', () => {
    const whole = Buffer.from('*3\r\n$5\r\nhello\r\n:42\r\n*-1\r\n+OK\r\n');
    expect(parseReply(whole)).toEqual({ value: ['hello', 42, null], next: whole.length - 5 });
    expect(parseReply(whole, whole.length - 5)).toEqual({ value: 'OK', next: whole.length });
    for (let cut = 1; cut < whole.length - 5; cut++) expect(parseReply(whole.subarray(0, cut))).toBeUndefined();
    const error = parseReply(Buffer.from('-WRONGPASS invalid username-password pair\r\n'))!.value;
    expect(error).toBeInstanceOf(RedisReplyError);
    expect((error as RedisReplyError).prefix).toBe('WRONGPASS');
    // A bulk string's length counts bytes, not characters.
    expect(parseReply(Buffer.from('$2\r\né\r\n'))!.value).toBe('é');
  });

  it('rejects what is not RESP as soon as the first byte shows it', () => {
    expect(() => parseReply(Buffer.from('SSH-'))).toThrow(RespProtocolError);
    expect(() => parseReply(Buffer.from('$abc\r\n'))).toThrow(RespProtocolError);
  });

  it('maps server replies to codes, scrubbing the password', () => {
    const where = target({ password: 'hunter2' });
    const reply = (text: string) => classifyRedisError(new RedisReplyError(text), where);
    expect(reply('NOPERM this user has no permissions to run the \'config|get\' command').code).toBe('PERMISSION');
    expect(reply('ERR invalid password').code).toBe('AUTH');
    expect(reply('LOADING Redis is loading the dataset in memory').retryable).toBe(true);
    expect(reply('ERR max number of clients reached').code).toBe('REFUSED');
    const odd = reply('ERR something about hunter2');
    expect(odd.code).toBe('UNKNOWN');
    expect(odd.message).not.toContain('hunter2');
  });

  it('keyspaces and replica lag from INFO text', () => {
    const info = parseInfo(
      ['# Replication', 'role:master', 'connected_slaves:1', 'slave0:ip=10.0.0.2,port=6380,state=online,offset=5,lag=45', '# Keyspace', 'db10:keys=2,expires=0,avg_ttl=0', 'db2:keys=7,expires=3,avg_ttl=1200'].join('\r\n'),
    );
    expect(keyspaces(info).map((k) => [k.name, k.properties])).toEqual([
      ['db2', { index: 2, keys: 7, expires: 3, avgTtlMs: 1200 }],
      ['db10', { index: 10, keys: 2, expires: 0, avgTtlMs: 0 }],
    ]);
    const lag = readinessFindings(info, null, 'cache1').find((f) => f.code === 'REPLICA_LAG');
    expect(lag?.message).toBe('replica 10.0.0.2:6380 of cache1 lags 45 s behind (more than 30 s)');
    const quiet = parseInfo('role:slave\r\nmaster_host:m\r\nmaster_port:1\r\nmaster_link_status:up\r\nmaster_last_io_seconds_ago:31\r\n');
    expect(readinessFindings(quiet, null, 'cache1').map((f) => f.code)).toEqual(['REPLICA_LAG']);
  });
});
