/**
 * The credentials a collector logs in with: a password identity's password, or a key identity's
 * private key (sealed together with its passphrase as JSON).
 */
import type { CollectTarget } from '../collectors/types.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { Identity } from '../core/types.ts';

export function openCredentials(identity: Identity, secrets: SecretBox): Pick<CollectTarget, 'username' | 'password' | 'privateKey' | 'passphrase'> {
  const opened = secrets.open(identity.secret);
  if (identity.kind === 'key') {
    const key = JSON.parse(opened) as { privateKey: string; passphrase?: string | null };
    return { username: identity.username, password: null, privateKey: key.privateKey, passphrase: key.passphrase ?? null };
  }
  return { username: identity.username, password: opened };
}
