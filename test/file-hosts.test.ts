/**
 * A Linux host over real SSH, end to end through the API: an SSH key identity (encrypted key
 * with passphrase), a file-system application server, an inventory, and its file systems at
 * /api/application/file/instance/{id}/filesystem.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshd, type Sshd } from './support/sshd.ts';
import { startTestServer, waitFor, type TestServer } from './support/server.ts';

describe('file-system hosts over SSH', () => {
  let s: TestServer;
  let sshd: Sshd;
  let sid: string;
  let hostId: number;

  beforeAll(async () => {
    sshd = await startSshd();
    s = await startTestServer();
    sid = await s.login();
  });
  afterAll(async () => {
    await s?.stop();
    await sshd?.stop();
  });

  it('inventories the mounted file systems with a key login', async () => {
    const key = await s.req('POST', '/api/identity/key', {
      sid, body: { name: 'ssh key', username: sshd.user, privatekey: sshd.encrypted.privateKey, passphrase: sshd.encrypted.passphrase },
    });
    expect(key.status).toBe(201);
    const reg = await s.req('POST', '/api/appserver', {
      sid,
      body: { name: 'linux-host', hostAddress: sshd.host, portNumber: sshd.port, applicationType: 'file', useKeyAuthentication: true, oskey: { href: key.json.links.self.href }, addToCatJob: true },
    });
    expect(reg.status).toBe(201);
    expect(reg.json.oskey.href).toBe(key.json.links.self.href);
    hostId = reg.json.id;

    const instance = await waitFor(async () => {
      const r = await s.req('GET', '/api/application/file/instance', { sid });
      return r.json.total ? r.json.instances[0] : undefined;
    }, 'the file host inventory');
    expect(instance.properties.hostKeyFingerprint).toBe(sshd.hostKeyFingerprint);
    const fs = await s.req('GET', instance.links.databases.href, { sid });
    expect(fs.json.filesystems).toBeDefined();
    const root = fs.json.filesystems.find((f: { name: string }) => f.name === '/');
    expect(root).toMatchObject({ resourceType: 'filesystem', missing: false });
    expect(root.sizeBytes).toBeGreaterThan(0);
    expect(root.properties.usedBytes).toBeLessThanOrEqual(root.sizeBytes);
    expect(fs.json.filesystems.some((f: { properties: { type: string } }) => ['proc', 'sysfs', 'tmpfs'].includes(f.properties.type))).toBe(false);

    const test = await s.req('POST', `/api/appserver/${reg.json.id}?action=test`, { sid, body: { type: 'application' } });
    expect(test.json.configGroups[0].tests.every((t: { status: string }) => t.status === 'SUCCESS')).toBe(true);
    for (const r of [key, reg, test, fs]) {
      expect(r.text).not.toContain('PRIVATE KEY');
      expect(r.text).not.toContain(sshd.encrypted.passphrase);
    }
  });

  it('finds a file system mounted between two inventories, and its unmounting in the next', async () => {
    // The host is this machine (the test sshd): a small ext4 image on a loop device is a real
    // file system the collector keeps (tmpfs and the like it leaves out).
    const dir = mkdtempSync(join(tmpdir(), 'census-mount-'));
    const image = join(dir, 'fs.img');
    const point = join(dir, 'mnt');
    const changesOf = async () => {
      const run = await s.req('POST', `/api/appserver/${hostId}?action=inventory`, { sid });
      expect(run.status, run.text).toBeLessThan(300);
      const session = await waitFor(async () => {
        const r = await s.req('GET', `/api/endeavour/jobsession/${run.json.sessionId}`, { sid });
        return r.json.status === 'RUNNING' ? undefined : r.json;
      }, 'the file host inventory');
      expect(session.status).toBe('COMPLETED');
      return ((await s.req('GET', `/api/endeavour/jobsession/${session.id}/change?pageSize=1000`, { sid })).json.changes as { objectName: string; change: string }[])
        .filter((c) => c.objectName === point);
    };
    try {
      execFileSync('truncate', ['-s', '8M', image]);
      execFileSync('mkfs.ext4', ['-q', '-F', image]);
      execFileSync('mkdir', ['-p', point]);
      expect(await changesOf()).toEqual([]);
      execFileSync('mount', ['-o', 'loop', image, point]);
      expect((await changesOf()).map((c) => c.change)).toEqual(['appeared']);
      execFileSync('umount', [point]);
      expect((await changesOf()).map((c) => c.change)).toEqual(['disappeared']);
    } finally {
      try {
        execFileSync('umount', [point], { stdio: 'ignore' });
      } catch {
        // not mounted (the usual case)
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails the task with a clear message for a key the host does not accept', async () => {
    const key = await s.req('POST', '/api/identity/key', { sid, body: { name: 'wrong key', username: sshd.user, privatekey: sshd.unauthorized.privateKey } });
    const reg = await s.req('POST', '/api/appserver', {
      sid,
      body: { name: 'linux-wrong-key', hostAddress: 'localhost', portNumber: sshd.port, applicationType: 'file', useKeyAuthentication: true, oskey: { href: key.json.links.self.href } },
    });
    expect(reg.status).toBe(201);
    const run = await s.req('POST', `/api/appserver/${reg.json.id}?action=inventory`, { sid });
    const session = await waitFor(async () => {
      const r = await s.req('GET', `/api/endeavour/jobsession/${run.json.sessionId}`, { sid });
      return r.json.status === 'RUNNING' ? undefined : r.json;
    }, 'the inventory of the wrong-key host');
    expect(session.status).toBe('FAILED');
    const tasks = await s.req('GET', `/api/endeavour/jobsession/${session.id}/task`, { sid });
    expect(tasks.json.tasks[0]).toMatchObject({ errorCode: 'AUTH' });
    expect(tasks.json.tasks[0].message).toContain('linux-wrong-key');
  });
});
