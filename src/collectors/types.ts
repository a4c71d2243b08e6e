/**
 * The collector contract. A collector connects to one application server with the credentials
 * it is given, reads what is there, and either returns it or throws a CollectorError that says
 * whether trying again could help. It must honour the AbortSignal and its deadline: it never hangs.
 * Collectors import only core; the engine picks one by applicationType.
 */
import type { PreviousInventory } from '../core/types.ts';

export interface CollectTarget {
  /** The application server's name, used in messages. */
  name: string;
  host: string;
  port: number | null;
  username: string;
  /** Password login (database servers, or SSH with a password). */
  password: string | null;
  /** SSH private key in OpenSSH/PEM form, for key login (file-system hosts). */
  privateKey?: string | null;
  /** Passphrase of the private key, if it has one. */
  passphrase?: string | null;
  /**
   * Transport encryption for database logins: "disable" (plain), "require" (encrypted, any
   * certificate), "verify" (encrypted, certificate checked against the system's CAs and the host
   * name). Default "disable".
   */
  tls?: TlsMode;
  /** A hypervisor's libvirt URI on the host (default qemu:///system); absent for application servers. */
  uri?: string | null;
}

// Shared with the API, so it lives in core; re-exported for the collectors.
import type { TlsMode } from '../core/tls-mode.ts';
export { TLS_MODES, type TlsMode } from '../core/tls-mode.ts';

/** The `ssl` option the pg and mysql2 drivers take for a TLS mode. */
export function driverSsl(mode: TlsMode | undefined): false | { rejectUnauthorized: boolean } {
  if (!mode || mode === 'disable') return false;
  return { rejectUnauthorized: mode === 'verify' };
}

export interface CollectOptions {
  signal: AbortSignal;
  /** Milliseconds the whole collection may take. */
  timeoutMs: number;
  /**
   * What the last inventory of this server recorded (absent on the first run). A collector may
   * carry over a part it did not read again only when an exact change signal it stored with the
   * object last time is unchanged now (docs/inventory.md); on any doubt it reads everything.
   * May still be on its way from the store (the engine reads it while the collector logs in):
   * await it only where it is needed.
   */
  previous?: PreviousInventory | Promise<PreviousInventory | undefined>;
  /**
   * Shared by the tasks of one session (the engine keeps one per session): what one server's
   * collection read that another's may use unread, under a key exact enough to say so (the
   * PostgreSQL collector's: a database's change signal, which names the running cluster). Absent:
   * nothing is shared.
   */
  shared?: Map<string, unknown>;
}

// What a collector is given of the last inventory: the store builds it (store/inventory.ts), so it lives in core.
export type { PreviousInventory };

/**
 * What a collector found worth a warning before a backup: e.g. archiving off, binary logging
 * off, a login lacking a privilege. Recorded as WARN log entries and as flags on the object.
 */
export interface ReadinessFinding {
  /** Stable code, e.g. "ARCHIVE_MODE_OFF". */
  code: string;
  message: string;
  /** The database (by name) the finding is about; absent for the instance itself. */
  database?: string;
}

export interface CollectedDatabase {
  name: string;
  sizeBytes: number | null;
  owner: string | null;
  encoding: string | null;
  properties: Record<string, unknown>;
}

export interface CollectedInstance {
  /** Stable identity of the instance on its server, e.g. "db1.example.com:5432". */
  name: string;
  host: string;
  port: number | null;
  version: string | null;
  properties: Record<string, unknown>;
  /**
   * The databases (schemas for MySQL, mounted file systems for file hosts: their mount point is
   * the name and their properties carry device, type and used space).
   */
  databases: CollectedDatabase[];
  findings?: ReadinessFinding[];
}

export interface CollectResult {
  instances: CollectedInstance[];
  /** Non-fatal remarks (e.g. a size that could not be read), logged as WARN. */
  warnings: string[];
}

export type CollectorErrorCode = 'REFUSED' | 'DNS' | 'TIMEOUT' | 'TLS' | 'AUTH' | 'PERMISSION' | 'PROTOCOL' | 'CANCELLED' | 'UNKNOWN';

const RETRYABLE: ReadonlySet<CollectorErrorCode> = new Set(['REFUSED', 'TIMEOUT']);

export class CollectorError extends Error {
  readonly retryable: boolean;
  constructor(
    readonly code: CollectorErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CollectorError';
    this.retryable = RETRYABLE.has(code);
  }
}

/** One check of a connection test (spec §7.3: SPP answers `tests: [{name, description, status}]`). */
export interface ConnectionCheck {
  /** Short stable name, e.g. "connect", "login", "privilege:pg_read_all_settings". */
  name: string;
  description: string;
  status: 'SUCCESS' | 'FAILED' | 'WARNING' | 'SKIPPED';
  /** What went wrong and what to do, for a person; never contains a secret. */
  message?: string;
}

// What a collector is (its info) is core's, so that the API can read it without importing collectors.
export type { CollectorInfo, IdentityKind, ProtectionGroup } from '../core/collector-info.ts';
import type { CollectorInfo } from '../core/collector-info.ts';

export interface Collector {
  readonly info: CollectorInfo;
  /** The same as info.type (kept for the engine's lookups). */
  readonly applicationType: string;
  collect(target: CollectTarget, options: CollectOptions): Promise<CollectResult>;
  /**
   * Checks the connection and the privileges the collector needs, step by step, and says what
   * passed and what did not. Never throws for a failed check: a failure is a FAILED check (and
   * the checks after it SKIPPED).
   */
  test(target: CollectTarget, options: CollectOptions): Promise<ConnectionCheck[]>;
}

/** The target with its port filled in, so messages and names show where we really went. */
export function withPort(target: CollectTarget, defaultPort: number): CollectTarget {
  return { ...target, port: target.port ?? defaultPort };
}
