/**
 * The application_name of each kind of connection Census makes to its own PostgreSQL store. An
 * operator tells them apart in pg_stat_activity by it; and the PostgreSQL collector, when the store
 * lives on a cluster it inventories, tells Census's store traffic from other backends by it: none of
 * these connections ever changes a role, a database, a tablespace or a role's or database's
 * settings (the shared catalogs whose statistics tell the collector whether to read them again).
 */
export const STORE_CONNECTION_NAMES = {
  store: 'census-store',
  queue: 'census-queue',
  liveness: 'census-liveness',
  changes: 'census-changes',
} as const;
