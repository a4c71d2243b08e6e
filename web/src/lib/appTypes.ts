/** The Manage Protection pages and what each application type looks like in Census. */
import { PAGES } from './pages';

export interface AppType {
  /** Census's applicationType. */
  type: 'postgresql' | 'mysql' | 'file';
  title: string;
  /** The navigation group the page sits under. */
  group: string;
  /** How a registered server of this type is called, singular and plural, and its instances. */
  server: string;
  servers: string;
  instances: string;
  /** What an instance holds, plural and singular. */
  items: string;
  item: string;
  /** Path segment under an instance: database or filesystem. */
  segment: 'database' | 'filesystem';
  defaultPort: number;
  portHint: string;
  /** File-system hosts log in over SSH, with a key or a password. */
  ssh: boolean;
  path: string;
}

export const APP_TYPES: Record<AppType['type'], AppType> = {
  postgresql: {
    type: 'postgresql', title: 'PostgreSQL', group: 'Databases', server: 'PostgreSQL server', servers: 'PostgreSQL servers', instances: 'PostgreSQL instances', items: 'databases', item: 'database', segment: 'database',
    defaultPort: 5432, portHint: 'The database port (PostgreSQL listens on 5432 by default).', ssh: false, path: PAGES.postgresql,
  },
  mysql: {
    type: 'mysql', title: 'MySQL/MariaDB', group: 'Databases', server: 'MySQL/MariaDB server', servers: 'MySQL/MariaDB servers', instances: 'MySQL/MariaDB instances', items: 'databases', item: 'database', segment: 'database',
    defaultPort: 3306, portHint: 'The database port (MySQL and MariaDB listen on 3306 by default).', ssh: false, path: PAGES.mysql,
  },
  file: {
    type: 'file', title: 'File Systems', group: 'Manage Protection', server: 'Linux host', servers: 'Linux hosts', instances: 'hosts', items: 'file systems', item: 'file system', segment: 'filesystem',
    defaultPort: 22, portHint: 'The SSH port of the host (22 by default).', ssh: true, path: PAGES.file,
  },
};
