import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterEach, describe, it, expect } from 'vitest';
import { loadOrCreateCertificate } from './certificate.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'census-tls-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

// Serve the pair on 127.0.0.1 and return the fingerprint of the certificate a client sees.
async function peerFingerprint(key: string, cert: string): Promise<string> {
  const server = https.createServer({ key, cert }, (_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise<string>((resolve, reject) => {
      const req = https.get({ host: '127.0.0.1', port, path: '/', rejectUnauthorized: false, agent: false }, (res) => {
        const fp = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        res.resume();
        res.on('end', () => resolve(fp));
      });
      req.on('error', reject);
    });
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('loadOrCreateCertificate', () => {
  it('creates a certificate once, then loads the same one; a client sees it', async () => {
    const dir = tempDir();
    const first = await loadOrCreateCertificate(dir, ['census.example.com', '10.1.2.3']);
    expect(first.created).toBe(true);
    expect(first.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);

    const tlsDir = join(dir, 'tls');
    expect(statSync(tlsDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(tlsDir, 'key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(tlsDir, 'cert.pem')).mode & 0o777).toBe(0o600);

    const second = await loadOrCreateCertificate(dir, ['census.example.com']);
    expect(second.created).toBe(false);
    expect(second.fingerprint256).toBe(first.fingerprint256);
    expect(second.cert).toBe(first.cert);
    expect(second.key).toBe(first.key);

    expect(await peerFingerprint(first.key, first.cert)).toBe(first.fingerprint256);
  });

  it('has the expected subject, names, signature and validity', async () => {
    const { cert } = await loadOrCreateCertificate(tempDir(), ['census.example.com', 'Other.Example', '10.1.2.3', '[fd00::5]']);
    const x509 = new X509Certificate(cert);
    expect(x509.subject).toBe('CN=Census');
    expect(x509.issuer).toBe('CN=Census');
    expect(x509.ca).toBe(false);
    const san = x509.subjectAltName ?? '';
    for (const entry of [
      'DNS:localhost',
      'DNS:census.example.com',
      'DNS:other.example',
      'IP Address:127.0.0.1',
      'IP Address:0:0:0:0:0:0:0:1',
      'IP Address:10.1.2.3',
      'IP Address:FD00:0:0:0:0:0:0:5',
    ]) {
      expect(san).toContain(entry);
    }
    expect(san).not.toContain('DNS:10.1.2.3');
    expect(x509.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x509.checkIP('::1')).toBeDefined();
    expect(x509.checkHost('census.example.com')).toBe('census.example.com');
    expect(x509.publicKey.asymmetricKeyType).toBe('rsa');
    expect(x509.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);

    const days = (Date.parse(x509.validTo) - Date.parse(x509.validFrom)) / 86_400_000;
    expect(Math.round(days)).toBe(825);
    expect(Date.parse(x509.validFrom)).toBeLessThanOrEqual(Date.now());
  });

  it('regenerates when one of the files is missing', async () => {
    const dir = tempDir();
    const first = await loadOrCreateCertificate(dir, []);
    rmSync(join(dir, 'tls', 'cert.pem'));
    const again = await loadOrCreateCertificate(dir, []);
    expect(again.created).toBe(true);
    expect(again.fingerprint256).not.toBe(first.fingerprint256);
    expect(existsSync(join(dir, 'tls', 'cert.pem'))).toBe(true);
    expect(statSync(join(dir, 'tls', 'key.pem')).mode & 0o777).toBe(0o600);
  });

  it('refuses a key that does not match the certificate', async () => {
    const a = tempDir();
    const b = tempDir();
    await loadOrCreateCertificate(a, []);
    const other = await loadOrCreateCertificate(b, []);
    writeFileSync(join(a, 'tls', 'key.pem'), other.key);
    await expect(loadOrCreateCertificate(a, [])).rejects.toThrow(/does not belong to the certificate/);
  });
});
