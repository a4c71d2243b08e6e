/**
 * The event journal as live streams read it (GET /api/endeavour/events): where a stream starts,
 * what is new after a seq, the journal's head, and a hint when this process commits events. The
 * journal's ordering guarantee (src/store/events.ts) is what makes `seq > last` reads gap-free.
 */
import type { Actor } from '../core/actor.ts';
import type { LogEntry } from '../core/types.ts';
import { EVENT_TYPES, type EventFilter, type EventType, type StoredEvent } from '../store/events.ts';
import { NAMES_SERVERS } from '../engine/messages.ts';
import type { ServiceContext } from './context.ts';

export { EVENT_TYPES };
export type { EventFilter, EventType, StoredEvent };

/** Where a new stream starts, and why it could not resume where it asked to. */
export interface StreamStart {
  /** The journal's highest seq when the stream opened. */
  latest: number;
  /** The seq after which the stream sends events. */
  start: number;
  /** Set when the resume point is older than what is kept ('expired') or beyond the journal ('unknown', e.g. another database). */
  reset?: { reason: 'unknown' | 'expired'; oldest: number | undefined };
}

export function eventService(ctx: ServiceContext) {
  const { store } = ctx;

  /**
   * What of `events` the caller may see: tasks and log entries of servers outside their resource
   * groups are left out (sessions and job status are the job's, which they may see).
   */
  async function visible(actor: Actor, events: StoredEvent[]): Promise<StoredEvent[]> {
    const scope = actor.access.scope('policy.view');
    if (scope === 'all') return events;
    const serverOfTask = new Map<number, number | null>();
    for (const e of events) {
      const taskId = e.type === 'log' ? (e.data as LogEntry).taskId : null;
      if (taskId !== null && !serverOfTask.has(taskId)) {
        const t = await store.tasks.get(taskId);
        serverOfTask.set(taskId, t && t.targetKind === 'appserver' ? t.appserverId : null);
      }
    }
    const shown = (server: number | null | undefined) => server === null || server === undefined || scope.has(server);
    return events.filter((e) => {
      if (e.type === 'task.updated') {
        const id = (e.data as { appserverId: string | null }).appserverId;
        return shown(id === null ? null : Number(id));
      }
      if (e.type === 'log') {
        const { taskId, messageId } = e.data as LogEntry;
        return taskId === null ? !NAMES_SERVERS.includes(messageId) : shown(serverOfTask.get(taskId));
      }
      return true;
    });
  }
  return {
    /** From now, or after `resume` when the journal still holds everything that followed it. */
    async open(_actor: Actor, resume?: number): Promise<StreamStart> {
      const latest = await store.events.latest();
      if (resume === undefined) return { latest, start: latest };
      const oldest = await store.events.oldest();
      // Older than what is kept (maintenance removed what came after it), or from another database.
      if ((oldest !== undefined && resume < oldest - 1) || resume > latest) {
        return { latest, start: latest, reset: { reason: resume > latest ? 'unknown' : 'expired', oldest } };
      }
      return { latest, start: resume };
    },

    /**
     * Events after `seq` that pass the filter and that the caller may see, oldest first, from a
     * read of at most `limit`. `last` is the seq of the last event read, seen or not, and `full`
     * says the read hit the limit (more may follow): a reader resumes after `last` either way.
     */
    async after(actor: Actor, seq: number, filter: EventFilter, limit: number): Promise<{ events: StoredEvent[]; last: number; full: boolean }> {
      const read = await store.events.after(seq, filter, limit);
      const last = read.length ? read[read.length - 1]!.seq : seq;
      return { events: await visible(actor, read), last, full: read.length >= limit };
    },

    /** The journal's highest seq (committed). */
    latest(_actor: Actor): Promise<number> {
      return store.events.latest();
    },

    /**
     * Calls `listener` after each commit of this process that wrote events: a hint to read now
     * rather than at the next poll (other processes' events are only found by polling).
     * Returns the function that unsubscribes.
     */
    onCommitted(_actor: Actor, listener: () => void): () => void {
      return store.onEventsCommitted(listener);
    },
  };
}

export type EventService = ReturnType<typeof eventService>;
