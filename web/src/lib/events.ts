/**
 * The tab's one live event stream: `GET /api/endeavour/events?esessionid=…` (Server-Sent Events,
 * docs/operations.md), opened after login (by Layout) and closed at logout or on a 401. Pages
 * subscribe to it and re-read what an event says changed; their polling slows to a safety pace
 * while the stream is up and returns to its usual pace whenever it is not.
 *
 * The browser's EventSource reconnects by itself after a dropped connection and resumes with
 * Last-Event-ID, so nothing is lost across a short outage. If it errors repeatedly (or the server
 * refuses it, e.g. an expired login session: EventSource cannot see the 401), the stream is given
 * up for a while and the pages poll as before; the polls then meet any 401 and go to the login
 * page. After RETRY_MS the stream is tried again.
 */
import { useEffect, useRef, useState } from 'react';

export type StreamState = 'off' | 'connecting' | 'open' | 'fallback';

export interface StreamEvent {
  type: string;
  data: Record<string, unknown>;
}

export const EVENTS_PATH = '/api/endeavour/events';
/** Errors in a row (without an open between them) after which the stream is given up. */
const MAX_ERRORS = 3;
/** How long to poll instead before trying the stream again. */
const RETRY_MS = 60_000;
const EVENT_TYPES = ['session.started', 'session.updated', 'session.ended', 'task.updated', 'log', 'job.status', 'reset'];

type Listener = (e: StreamEvent) => void;

let source: EventSource | null = null;
let sid: string | null = null;
let state: StreamState = 'off';
let errors = 0;
let retryTimer: number | undefined;
const listeners = new Set<Listener>();
const stateListeners = new Set<(s: StreamState) => void>();

function setState(next: StreamState): void {
  if (state === next) return;
  state = next;
  for (const l of [...stateListeners]) l(next);
}

function dispatch(e: StreamEvent): void {
  for (const l of [...listeners]) {
    try {
      l(e);
    } catch (err) {
      console.warn('census: event listener failed', err);
    }
  }
}

function connect(): void {
  if (!sid) return;
  const es = new EventSource(`${EVENTS_PATH}?esessionid=${encodeURIComponent(sid)}`);
  source = es;
  setState('connecting');
  es.onopen = () => {
    if (source !== es) return;
    errors = 0;
    setState('open');
  };
  es.onerror = () => {
    if (source !== es) return;
    errors++;
    // CLOSED: the browser gave up (an HTTP error such as 401, or not an event stream).
    // CONNECTING: it reconnects by itself with Last-Event-ID; poll meanwhile.
    if (es.readyState === EventSource.CLOSED || errors >= MAX_ERRORS) {
      es.close();
      source = null;
      setState('fallback');
      window.clearTimeout(retryTimer);
      retryTimer = window.setTimeout(() => {
        errors = 0;
        if (sid && !source) connect();
      }, RETRY_MS);
    } else {
      setState('connecting');
    }
  };
  for (const type of EVENT_TYPES) {
    es.addEventListener(type, (m) => {
      if (source !== es) return;
      let data: Record<string, unknown> = {};
      try {
        const parsed: unknown = JSON.parse((m as MessageEvent<string>).data);
        if (parsed && typeof parsed === 'object') data = parsed as Record<string, unknown>;
      } catch {
        return;
      }
      dispatch({ type, data });
    });
  }
}

/** Opens the stream for this login session (again only if the session changed). */
export function openEvents(sessionId: string): void {
  if (sid === sessionId && (source || state === 'fallback')) return;
  closeEvents();
  sid = sessionId;
  errors = 0;
  connect();
}

/** Closes the stream (logout, 401) and stops trying. */
export function closeEvents(): void {
  window.clearTimeout(retryTimer);
  retryTimer = undefined;
  source?.close();
  source = null;
  sid = null;
  errors = 0;
  setState('off');
}

export const streamState = (): StreamState => state;

/** Subscribes to every event of the stream; returns the unsubscribe. */
export function subscribe(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

/** The stream's state, as React state. */
export function useStreamState(): StreamState {
  const [current, setCurrent] = useState(state);
  useEffect(() => {
    stateListeners.add(setCurrent);
    setCurrent(state);
    return () => {
      stateListeners.delete(setCurrent);
    };
  }, []);
  return current;
}

/** Whether the stream is up now: pages poll slowly while it is. */
export const useStreamLive = (): boolean => useStreamState() === 'open';

/**
 * Calls `handler` for every event while mounted. The handler may change between renders; the
 * latest one is called.
 */
export function useEvents(handler: Listener): void {
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => subscribe((e) => ref.current(e)), []);
}

/** The event's `field` as a string (ids are strings on the wire, but compare loosely). */
export const idOf = (e: StreamEvent, field: string): string | undefined => {
  const v = e.data[field];
  return v === undefined || v === null ? undefined : String(v);
};
