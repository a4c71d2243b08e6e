/**
 * An error that leaves the server in SPP's shape: `{id, description}` with an HTTP status.
 * Every layer may throw it; the API turns it into the response.
 */
export class SppError extends Error {
  constructor(
    readonly status: number,
    readonly id: string,
    readonly description: string,
  ) {
    super(description);
    this.name = 'SppError';
  }
}

export const badRequest = (description: string, id = 'XSBInvalidArgumentException') =>
  new SppError(400, id, description);

export const notFound = (what: string, key: string | number) =>
  new SppError(404, 'XSBObjectNotFoundException', `${what} ${JSON.stringify(String(key))} does not exist.`);

export const conflict = (description: string) => new SppError(409, 'XSBConflictException', description);
