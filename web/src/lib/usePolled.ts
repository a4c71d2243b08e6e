/**
 * Loads data and keeps it current by asking again after `interval(data)` milliseconds (null:
 * stop). Only one request is in flight at a time; leaving the page aborts everything.
 * A new `key` is other data (what was shown goes); a new `reloadOn` or a refresh() asks again at
 * once while what was shown stays. The last good data also stays when a later request fails,
 * with the error beside it.
 *
 * poke() is for live events: it asks again as soon as the request in flight (if any) is done,
 * without aborting it, so a burst of events costs at most one more request.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from '../api/client';

export interface Polled<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  refresh: () => void;
  /** Puts fresh data in place (e.g. the answer of an action) and polls on from there. */
  set: (data: T) => void;
  /** Asks again now, or right after the request in flight; keeps the polling pace. */
  poke: () => void;
}

const RETRY_AFTER_ERROR_MS = 5_000;

export function usePolled<T>(
  load: (signal: AbortSignal) => Promise<T>,
  key: string,
  interval: (data: T) => number | null = () => null,
  reloadOn = '',
): Polled<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean; key: string }>({ loading: true, key });
  const [nonce, setNonce] = useState(0);
  const loadRef = useRef(load);
  const intervalRef = useRef(interval);
  const pokeRef = useRef<() => void>(() => {});
  loadRef.current = load;
  intervalRef.current = interval;

  useEffect(() => {
    const ctl = new AbortController();
    let timer: number | undefined;
    let stopped = false;
    let inFlight = false;
    let again = false;
    const schedule = (ms: number | null) => {
      if (stopped) return;
      if (again) ms = 0;
      again = false;
      if (ms !== null) timer = window.setTimeout(tick, ms);
    };
    async function tick() {
      window.clearTimeout(timer);
      inFlight = true;
      try {
        const data = await loadRef.current(ctl.signal);
        inFlight = false;
        if (stopped) return;
        setState({ data, loading: false, key });
        schedule(intervalRef.current(data));
      } catch (err) {
        inFlight = false;
        if (stopped || (err as Error).name === 'AbortError') return;
        // A 401 has already sent the person to the login page.
        if (err instanceof ApiError && err.isUnauthorized) return;
        setState((s) => ({ ...(s.key === key && s.data !== undefined ? { data: s.data } : {}), error: err, loading: false, key }));
        again = false;
        schedule(RETRY_AFTER_ERROR_MS);
      }
    }
    pokeRef.current = () => {
      if (stopped) return;
      if (inFlight) again = true;
      else void tick();
    };
    setState((s) => (s.key === key ? { ...s, loading: s.data === undefined } : { loading: true, key }));
    void tick();
    return () => {
      stopped = true;
      pokeRef.current = () => {};
      ctl.abort();
      window.clearTimeout(timer);
    };
  }, [key, reloadOn, nonce]);

  const refresh = useCallback(() => setNonce((n) => n + 1), []);
  const set = useCallback(
    (data: T) => {
      setState({ data, loading: false, key });
      setNonce((n) => n + 1); // and poll again at the pace the new data asks for
    },
    [key],
  );
  const poke = useCallback(() => pokeRef.current(), []);
  const same = state.key === key;
  return { data: same ? state.data : undefined, error: same ? state.error : undefined, loading: !same || state.loading, refresh, set, poke };
}
