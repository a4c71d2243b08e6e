/**
 * `census server --tls-cert FILE --tls-key FILE`: the operator's certificate instead of the
 * self-signed one, checked at start, and read again on SIGHUP: new connections get the new
 * certificate, an open connection keeps its own, a bad file leaves the one in use.
 */
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reloadFiles } from '../src/serve.ts';
import { startCensus } from '../src/main.ts';
import { spawnCensus } from './support/processes.ts';
import { startTestServer, waitFor, type TestServer } from './support/server.ts';

interface Pair { cert: string; key: string; fingerprint: string }

async function makePair(name: string): Promise<Pair> {
  const pems = await generate([{ name: 'commonName', value: name }], {
    keyType: 'rsa', keySize: 2048, algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  return { cert: pems.cert, key: pems.private, fingerprint: new X509Certificate(pems.cert).fingerprint256 };
}

/** Opens a TLS connection and returns it with the fingerprint of the certificate it was shown. */
function connect(url: string): Promise<{ socket: tls.TLSSocket; fingerprint: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: hostname, port: Number(port), rejectUnauthorized: false }, () =>
      resolve({ socket, fingerprint: socket.getPeerCertificate().fingerprint256 }));
    socket.once('error', reject);
  });
}

async function fingerprintOf(url: string): Promise<string> {
  const { socket, fingerprint } = await connect(url);
  socket.destroy();
  return fingerprint;
}

/** One HTTP request over an open TLS connection; resolves with the status line. */
function ask(socket: tls.TLSSocket, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (d: Buffer) => {
      got += d.toString();
      if (got.includes('\r\n')) {
        socket.off('data', onData);
        resolve(got.split('\r\n')[0]!);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`GET /api/lifecycle/ping HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n\r\n`);
  });
}

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'census-tls-'));
  dirs.push(d);
  return d;
};

describe('--tls-cert and --tls-key', () => {
  let a: Pair;
  let b: Pair;
  let files: string;
  const certFile = () => join(files, 'cert.pem');
  const keyFile = () => join(files, 'key.pem');
  const place = (p: Pair) => {
    writeFileSync(certFile(), p.cert, { mode: 0o600 });
    writeFileSync(keyFile(), p.key, { mode: 0o600 });
  };

  beforeAll(async () => {
    [a, b] = await Promise.all([makePair('census-a'), makePair('census-b')]);
    files = tempDir();
  });
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  describe('in this process', () => {
    let s: TestServer;
    beforeAll(async () => {
      place(a);
      s = await startTestServer({ tlsCert: certFile(), tlsKey: keyFile() });
    });
    afterAll(async () => s?.stop());

    it('serves the given certificate instead of the self-signed one', async () => {
      expect(await fingerprintOf(s.url)).toBe(a.fingerprint);
    });

    it('gives new connections the new certificate after a reload, while an open one keeps going', async () => {
      const open = await connect(s.url);
      expect(open.fingerprint).toBe(a.fingerprint);
      place(b);
      expect(s.census.reloadTls()).toBe(b.fingerprint);
      expect(await fingerprintOf(s.url)).toBe(b.fingerprint);
      // The connection made before the reload still answers, on its own certificate.
      expect(await ask(open.socket, new URL(s.url).host)).toMatch(/^HTTP\/1\.1 \d{3}/);
      expect(open.socket.getPeerCertificate().fingerprint256).toBe(a.fingerprint);
      open.socket.destroy();
    });

    it('keeps the certificate in use when a file is bad, and names the file', async () => {
      writeFileSync(keyFile(), 'not a key\n');
      expect(() => s.census.reloadTls()).toThrow(`${keyFile()} is not an unencrypted PEM private key`);
      writeFileSync(keyFile(), a.key); // B's certificate with A's key
      expect(() => s.census.reloadTls()).toThrow(`${keyFile()} does not belong to the certificate in ${certFile()}`);
      writeFileSync(certFile(), '-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n');
      expect(() => s.census.reloadTls()).toThrow(`${certFile()} is not a PEM certificate`);
      expect(await fingerprintOf(s.url)).toBe(b.fingerprint);

      // What the SIGHUP handler does with that: logs it, and the process goes on.
      const log = { info: [] as string[], error: [] as string[] };
      reloadFiles('server', s.census, { info: (l) => log.info.push(l), error: (l) => log.error.push(l) });
      expect(log.error).toEqual([`census server: TLS certificate NOT reloaded, the one in use stays: ${certFile()} is not a PEM certificate`]);
      expect(log.info).toEqual(['census server: secret keys reloaded (current key 0)']);
      expect(await fingerprintOf(s.url)).toBe(b.fingerprint);
      place(b);
    });
  });

  it('refuses to start on a pair that does not match, or on half a pair, naming the file', async () => {
    const dir = tempDir();
    const cert = join(dir, 'c.pem');
    const key = join(dir, 'k.pem');
    writeFileSync(cert, a.cert);
    writeFileSync(key, b.key);
    await expect(startCensus({ dataDir: join(dir, 'data'), port: 0, tlsCert: cert, tlsKey: key })).rejects.toThrow(`${key} does not belong to the certificate in ${cert}`);
    await expect(startCensus({ dataDir: join(dir, 'data'), port: 0, tlsCert: cert })).rejects.toThrow('--tls-cert and --tls-key go together');
    await expect(startCensus({ dataDir: join(dir, 'data'), port: 0, tlsCert: join(dir, 'missing.pem'), tlsKey: key })).rejects.toThrow(`${join(dir, 'missing.pem')} cannot be read (ENOENT)`);
  });

  it('reloads on SIGHUP in a real census server process', async () => {
    const dir = tempDir();
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    writeFileSync(cert, a.cert);
    writeFileSync(key, a.key);
    const p = spawnCensus('server', ['--port', '0', '--data-dir', join(dir, 'data'), '--tls-cert', cert, '--tls-key', key], { CENSUS_ADMIN_PASSWORD: 'Test-Admin-Pass-1' });
    try {
      const url = await p.started;
      expect(await fingerprintOf(url)).toBe(a.fingerprint);
      writeFileSync(cert, b.cert);
      writeFileSync(key, b.key);
      p.child.kill('SIGHUP');
      await waitFor(async () => ((await fingerprintOf(url)) === b.fingerprint ? true : undefined), 'new connections to see certificate B');
      expect(p.output()).toContain(`TLS certificate reloaded (SHA-256 ${b.fingerprint})`);

      const seen = p.output().length;
      writeFileSync(key, 'garbage');
      p.child.kill('SIGHUP');
      await waitFor(async () => (p.output().slice(seen).includes('TLS certificate NOT reloaded') ? true : undefined), 'the bad key to be logged');
      expect(p.output().slice(seen)).toContain(`${key} is not an unencrypted PEM private key`);
      expect(await fingerprintOf(url)).toBe(b.fingerprint);
      expect(p.child.exitCode).toBe(null);
    } finally {
      await p.kill();
    }
  }, 90_000);

  it('refuses --tls-cert without --tls-key on the command line', async () => {
    const dir = tempDir();
    copyFileSync(join(files, 'cert.pem'), join(dir, 'c.pem'));
    const p = spawnCensus('server', ['--port', '0', '--data-dir', join(dir, 'data'), '--tls-cert', join(dir, 'c.pem')]);
    expect(await p.exited).toBe(2);
    expect(p.output()).toContain('--tls-cert and --tls-key go together: give both or neither');
  }, 60_000);
});
