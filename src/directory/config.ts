/**
 * A directory server as registered: where it is, how to reach it safely, how to find a user and
 * their groups. `checkConfig` refuses what cannot work (or would be unsafe) before any connection,
 * with DomainErrors of kind 'invalid' naming the field.
 */
import { invalid } from '../core/errors.ts';
import { FilterParser } from 'ldapts';
import { fillFilter } from './filter.ts';

export interface DirectoryConfig {
  /** ldap://host[:port] (StartTLS required) or ldaps://host[:port]; nothing after the port. */
  url: string;
  /** Upgrade an ldap:// connection with StartTLS before anything else. Must be true for ldap://. */
  startTls: boolean;
  /** Check the server's certificate and its name. Off only for a test directory. */
  tlsVerify: boolean;
  /** PEM: the CA(s) to trust instead of Node's built-in list. */
  caCert?: string;
  /** The service account that searches for users and groups. */
  bindDn: string;
  bindPassword: string;
  /** Where users are searched (the whole subtree). */
  userBase: string;
  /** An RFC 4515 filter with `{username}`, e.g. "(uid={username})". */
  userFilter: string;
  /** The user's attribute that is their login name (default "uid"); `{username}` in groupFilter is its value. */
  usernameAttribute?: string;
  /** Where groups are searched; groups are then also read from the user's memberOf. */
  groupBase?: string;
  /** An RFC 4515 filter with `{dn}` (the user's DN) and/or `{username}`, e.g. "(member={dn})". */
  groupFilter?: string;
  /** The deadline of each step (connect, TLS, bind, search), in ms; default 10 000. */
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_TIMEOUT_MS = 120_000;

/** The parts of the URL a connection needs. */
export interface Endpoint {
  secure: boolean;
  host: string;
  port: number;
  /** host:port, for messages. */
  where: string;
}

export function endpointOf(url: string): Endpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(`The directory URL "${url}" is not a URL (expected ldap://host:port or ldaps://host:port).`, 'directory.url');
  }
  const scheme = parsed.protocol.toLowerCase();
  if (scheme !== 'ldap:' && scheme !== 'ldaps:') throw invalid(`The directory URL must start with ldap:// or ldaps://, not "${parsed.protocol}//".`, 'directory.url');
  if (!parsed.hostname) throw invalid('The directory URL has no host.', 'directory.url');
  if (parsed.username || parsed.password) throw invalid('The directory URL may not carry a user or password: use bindDn and bindPassword.', 'directory.url');
  if ((parsed.pathname && parsed.pathname !== '/') || parsed.search || parsed.hash) {
    throw invalid('The directory URL names only the server (ldap://host:port): give the search base in userBase.', 'directory.url');
  }
  const secure = scheme === 'ldaps:';
  const port = parsed.port ? Number(parsed.port) : secure ? 636 : 389;
  // IPv6 literals come back bracketed from URL; net/tls want them bare.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  return { secure, host, port, where: `${parsed.hostname}:${port}` };
}

const nonEmpty = (value: unknown, field: string) => {
  if (typeof value !== 'string' || value.trim() === '') throw invalid(`The directory's ${field} is required.`, `directory.${field}`);
};

function checkFilter(filter: string, field: string, placeholders: readonly string[]): void {
  if (!placeholders.some((p) => filter.includes(`{${p}}`))) {
    throw invalid(`The directory's ${field} must contain ${placeholders.map((p) => `{${p}}`).join(' or ')}, e.g. "${field === 'userFilter' ? '(uid={username})' : '(member={dn})'}".`, `directory.${field}`);
  }
  try {
    FilterParser.parseString(fillFilter(filter, { username: 'x', dn: 'cn=x' }));
  } catch {
    throw invalid(`The directory's ${field} "${filter}" is not an LDAP filter (RFC 4515), e.g. "(uid={username})".`, `directory.${field}`);
  }
}

/** Refuses a config that cannot work or is unsafe; returns its endpoint. */
export function checkConfig(config: DirectoryConfig): Endpoint {
  nonEmpty(config.url, 'url');
  const endpoint = endpointOf(config.url);
  if (typeof config.startTls !== 'boolean') throw invalid("The directory's startTls must be true or false.", 'directory.startTls');
  if (typeof config.tlsVerify !== 'boolean') throw invalid("The directory's tlsVerify must be true or false.", 'directory.tlsVerify');
  if (endpoint.secure && config.startTls) throw invalid('startTls is for ldap:// URLs: an ldaps:// connection is TLS from the start.', 'directory.startTls');
  // A simple bind sends the password as it is: never over a connection without TLS.
  if (!endpoint.secure && !config.startTls) throw invalid('An ldap:// directory needs startTls: without TLS, passwords would cross the network in clear.', 'directory.startTls');
  if (config.caCert !== undefined && !/-----BEGIN CERTIFICATE-----/.test(config.caCert)) {
    throw invalid("The directory's caCert must be PEM (-----BEGIN CERTIFICATE-----).", 'directory.caCert');
  }
  nonEmpty(config.bindDn, 'bindDn');
  // An empty password makes a simple bind anonymous on most servers (RFC 4513 §5.1.2).
  if (typeof config.bindPassword !== 'string' || config.bindPassword === '') throw invalid("The directory's bindPassword is required.", 'directory.bindPassword');
  nonEmpty(config.userBase, 'userBase');
  nonEmpty(config.userFilter, 'userFilter');
  checkFilter(config.userFilter, 'userFilter', ['username']);
  if (config.usernameAttribute !== undefined && !/^[A-Za-z][A-Za-z0-9-]*$/.test(config.usernameAttribute)) {
    throw invalid(`The directory's usernameAttribute "${config.usernameAttribute}" is not an attribute name.`, 'directory.usernameAttribute');
  }
  if (config.groupFilter !== undefined || config.groupBase !== undefined) {
    nonEmpty(config.groupBase, 'groupBase');
    nonEmpty(config.groupFilter, 'groupFilter');
    checkFilter(config.groupFilter!, 'groupFilter', ['dn', 'username']);
  }
  if (config.timeoutMs !== undefined && !(Number.isInteger(config.timeoutMs) && config.timeoutMs >= 100 && config.timeoutMs <= MAX_TIMEOUT_MS)) {
    throw invalid(`The directory's timeoutMs must be a whole number of milliseconds from 100 to ${MAX_TIMEOUT_MS}.`, 'directory.timeoutMs');
  }
  return endpoint;
}
