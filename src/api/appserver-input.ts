/**
 * Reading SPP's wire fields of an application server registration or update into the service's
 * input (src/services/appservers.ts has the rules): which of `osuser`, `oskey`,
 * `appCredentials`, `identity` or inline `username`/`password`/`privatekey` give the login, and
 * the settings a registration and an update share.
 */
import { invalid } from '../core/errors.ts';
import { asNumber } from '../core/query.ts';
import type { AppServerInput } from '../services/index.ts';
import { identityInput } from './identities.ts';
import { bool, identityRef, str, type Body } from './input.ts';

/** A port as SPP clients send it: a number, a numeric string, or null/"" for the type's default. */
const portOf = (v: unknown): number | null => (v === null || v === '' ? null : asNumber(v));


/**
 * Reads one registration's wire fields into the service's input (the rules are the service's).
 * `inline` allows credentials in the body itself — `username` with `password` or `privatekey` —
 * as /ngp and bulk registration do.
 */
export function registration(body: Body, inline: boolean): AppServerInput {
  const hostAddress = str(body, 'hostAddress', { required: true })!;
  const applicationType = str(body, 'applicationType', { required: true })!;
  return {
    hostAddress, applicationType, ...settings(body), useKeyAuthentication: keyLogin(body, inline) ?? false,
    credentials: credentials(body, inline, hostAddress) ?? missingCredentials(),
  };
}

/** Whether the body asks for key login: `useKeyAuthentication`, or (inline) a private key; undefined when it does not say. */
export function keyLogin(body: Body, inline: boolean): boolean | undefined {
  if (body.useKeyAuthentication !== undefined && body.useKeyAuthentication !== null && body.useKeyAuthentication !== '') return bool(body, 'useKeyAuthentication', false);
  if (inline && typeof (body.privatekey ?? body.privateKey) === 'string') return true;
  return undefined;
}

/** The fields a registration and an update share; absent ones are left out. */
export function settings(body: Body) {
  const portNumber = body.portNumber === undefined ? undefined : portOf(body.portNumber);
  const maxConcurrency = (body.opProperties as Body | undefined)?.maxConcurrency;
  return {
    ...(str(body, 'name') !== undefined ? { name: str(body, 'name')! } : {}),
    ...(portNumber !== undefined ? { portNumber } : {}),
    ...(str(body, 'osType') !== undefined ? { osType: str(body, 'osType')! } : {}),
    ...(body.comment !== undefined ? { comment: str(body, 'comment', { max: 2000 }) ?? null } : {}),
    ...(str(body, 'tls') !== undefined ? { tlsMode: str(body, 'tls')! } : {}),
    ...(maxConcurrency !== undefined ? { maxConcurrency: asNumber(maxConcurrency) } : {}),
    ...(body.siteId !== undefined && body.siteId !== null && body.siteId !== '' ? { siteId: asNumber(body.siteId) } : {}),
  };
}

/** Where the login comes from: an identity reference, or (inline) credentials to make one from. */
export function credentials(body: Body, inline: boolean, hostAddress: string): AppServerInput['credentials'] | undefined {
  const useKey = keyLogin(body, inline) ?? false;
  const creds = Array.isArray(body.appCredentials) ? (body.appCredentials[0] as Body | undefined) : undefined;
  const ref = identityRef(useKey ? body.oskey : undefined) ?? identityRef(creds?.appuser) ?? identityRef(body.osuser) ??
    (typeof body.identity === 'string' || typeof body.identity === 'number' ? identityRef(String(body.identity)) : undefined);
  if (ref !== undefined) return { identityId: ref };
  if (inline && typeof body.username === 'string' && body.username.includes('/identity/')) return { identityId: identityRef(body.username)! };
  if (inline && body.username !== undefined) {
    return { inline: identityInput({ ...body, name: `${str(body, 'name') ?? hostAddress.trim()} login` }) };
  }
  return undefined;
}

const missingCredentials = (): never => {
  throw invalid('Give the credentials to use: "osuser": {"href": ".../api/identity/user/ID"} (or "oskey" with useKeyAuthentication).');
};
