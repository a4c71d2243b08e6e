/** Helpers for the collectors' own tests. */
import { expect } from 'vitest';
import { CollectorError, type CollectOptions, type CollectorInfo, type ConnectionCheck } from '../../src/collectors/types.ts';

/** Collect options with a fresh signal and a 10 s budget, unless overridden. */
export const options = (over: Partial<CollectOptions> = {}): CollectOptions => ({
  signal: new AbortController().signal,
  timeoutMs: 10_000,
  ...over,
});

/** The rejection of `promise`, which must be a CollectorError. */
export async function failure(promise: Promise<unknown>): Promise<CollectorError> {
  const err = await promise.then(
    () => expect.fail('collect() should have failed'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CollectorError);
  return err as CollectorError;
}

/**
 * A connection test answered only checks its collector's info declares, in the declared order
 * (the API serves info.checks as what `?action=test` can answer).
 */
export function expectDeclaredChecks(info: CollectorInfo, checks: ConnectionCheck[]): void {
  const declared = info.checks.map((c) => c.name);
  const answered = checks.map((c) => c.name);
  expect(answered.filter((name) => !declared.includes(name)), `checks not in ${info.type}'s info.checks`).toEqual([]);
  expect(answered, 'in the declared order').toEqual(declared.filter((name) => answered.includes(name)));
}
