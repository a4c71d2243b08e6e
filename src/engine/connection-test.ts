/** The connection and privilege checks of one application server's collector (spec §7.3). */
import type { Collector, ConnectionCheck } from '../collectors/types.ts';
import type { TlsMode } from '../core/tls-mode.ts';
import { notFound } from '../core/errors.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { Store } from '../store/index.ts';
import { openCredentials } from './credentials.ts';

export interface ConnectionTestDeps {
  store: Store;
  secrets: SecretBox;
  collectors: ReadonlyMap<string, Collector>;
}

export async function testConnection(d: ConnectionTestDeps, appserverId: number, timeoutMs: number): Promise<ConnectionCheck[]> {
  const server = await d.store.appservers.get(appserverId);
  if (!server) throw notFound('Application server', appserverId);
  const collector = d.collectors.get(server.applicationType);
  if (!collector) {
    return [{ name: 'collector', description: 'Census has a collector for this application type', status: 'FAILED', message: `Census cannot inventory "${server.applicationType}" yet.` }];
  }
  const identity = server.identityId === null ? undefined : await d.store.identities.get(server.identityId);
  if (!identity) return [{ name: 'credentials', description: 'Credentials are attached', status: 'FAILED', message: `No identity is attached to ${server.name}.` }];
  let credentials;
  try {
    credentials = openCredentials(identity, d.secrets);
  } catch {
    return [{ name: 'credentials', description: 'Credentials can be decrypted', status: 'FAILED', message: `The stored secret of identity "${identity.name}" cannot be decrypted with this server's key.` }];
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs + 2_000);
  try {
    return await collector.test(
      { name: server.name, host: server.hostAddress, port: server.portNumber, tls: server.tlsMode as TlsMode, ...credentials, ...(server.uri ? { uri: server.uri } : {}) },
      { signal: controller.signal, timeoutMs },
    );
  } finally {
    clearTimeout(timer);
  }
}
