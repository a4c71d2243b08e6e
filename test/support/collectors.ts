/** Helpers for the collectors' own tests. */
import { expect } from 'vitest';
import { CollectorError, type CollectOptions } from '../../src/collectors/types.ts';

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
