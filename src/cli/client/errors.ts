/** Exit codes and the errors that end a client command. */

/** What `census` client commands exit with (documented in `census --help` and docs/cli.md). */
export const EXIT = {
  OK: 0,
  /** The server refused (its SPP error), the connection failed, or anything else went wrong. */
  ERROR: 1,
  /** The command line is wrong: unknown command or option, missing or malformed argument. */
  USAGE: 2,
  /** The job session ended PARTIAL (some tasks failed). */
  PARTIAL: 3,
  /** The job session ended FAILED (no task completed); `appserver test` when a check FAILED. */
  FAILED: 4,
  /** The job session was CANCELLED. */
  CANCELLED: 5,
  /** `--timeout` ran out while the session was still running (it goes on on the server). */
  TIMEOUT: 6,
} as const;

/** Exit code for a job session's final status. */
export function exitForStatus(status: string): number {
  switch (status) {
    case 'COMPLETED':
      return EXIT.OK;
    case 'PARTIAL':
      return EXIT.PARTIAL;
    case 'FAILED':
      return EXIT.FAILED;
    case 'CANCELLED':
    case 'CANCELED':
      return EXIT.CANCELLED;
    case 'RUNNING':
    case 'CANCELLING':
      return EXIT.TIMEOUT;
    default:
      return EXIT.ERROR;
  }
}

/** An error to report as `census: <message>` with an exit code (1 unless said otherwise). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code: number = EXIT.ERROR,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The server answered with an SPP error: `{id, description}` and an HTTP status. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly id: string | undefined,
    readonly description: string,
  ) {
    super(`${description} (HTTP ${status}${id ? ` ${id}` : ''})`);
    this.name = 'ApiError';
  }
}

/** A wrong command line: reported with the command's usage, exit 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The usage text of the command (or group) that was being parsed, if known. */
    public usage?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}
