/**
 * The collector contract. A collector connects to one application server with the credentials
 * it is given, reads what is there, and either returns it or throws a CollectorError that says
 * whether trying again could help. It must honour the AbortSignal and its deadline: it never hangs.
 * Collectors import only core; the engine picks one by applicationType.
 */

export interface CollectTarget {
  /** The application server's name, used in messages. */
  name: string;
  host: string;
  port: number | null;
  username: string;
  password: string;
}

export interface CollectOptions {
  signal: AbortSignal;
  /** Milliseconds the whole collection may take. */
  timeoutMs: number;
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
  databases: CollectedDatabase[];
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

export interface Collector {
  readonly applicationType: string;
  collect(target: CollectTarget, options: CollectOptions): Promise<CollectResult>;
}
