/**
 * The server's list of collectors, read once per tab after login and shared by the menu and the
 * pages. A failed read is not kept: the next page that needs the list asks again.
 */
import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { get } from '../api/client';
import type { Collector, Envelope } from '../api/types';
import { menu, type MenuGroup } from './appTypes';

let cached: Promise<Collector[]> | null = null;

function loadCollectors(): Promise<Collector[]> {
  cached ??= get<Envelope & { collectors: Collector[] }>('/api/census/collector?pageSize=1000').then(
    (env) => env.collectors,
    (err: unknown) => {
      cached = null;
      throw err;
    },
  );
  return cached;
}

export interface CollectorsState {
  /** The menu once the list is read; undefined while it loads or after it failed. */
  groups?: MenuGroup[];
  error?: unknown;
}

const CollectorsContext = createContext<CollectorsState>({});

export function CollectorsProvider({ enabled, children }: { enabled: boolean; children: ReactNode }) {
  const [state, setState] = useState<{ list?: Collector[]; error?: unknown }>({});
  useEffect(() => {
    if (!enabled) return;
    let live = true;
    loadCollectors().then(
      (list) => {
        if (live) setState({ list });
      },
      (error: unknown) => {
        if (live) setState({ error });
      },
    );
    return () => {
      live = false;
    };
  }, [enabled]);
  const value = useMemo<CollectorsState>(() => (state.list ? { groups: menu(state.list) } : { error: state.error }), [state]);
  return <CollectorsContext.Provider value={value}>{children}</CollectorsContext.Provider>;
}

export const useCollectors = (): CollectorsState => useContext(CollectorsContext);
