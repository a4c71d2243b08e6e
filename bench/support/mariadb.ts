/**
 * A MariaDB account of a benchmark's own: the servers it registers log in with it, and it is
 * dropped at the end. Made at '%' and also at localhost/127.0.0.1, where an anonymous account
 * would otherwise win over '%' for a loopback client.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';

const HOSTS = ['%', 'localhost', '127.0.0.1'];

export interface BenchAccount {
  user: string;
  password: string;
  create(): Promise<void>;
  drop(): Promise<void>;
}

export function mariadbAccount(prefix: string, admin: mysql.ConnectionOptions = { host: '127.0.0.1', port: 3306, user: 'root', password: '' }): BenchAccount {
  const user = `${prefix}_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  const withAdmin = async (fn: (c: mysql.Connection) => Promise<void>) => {
    const c = await mysql.createConnection(admin);
    try {
      await fn(c);
    } finally {
      await c.end();
    }
  };
  return {
    user,
    password,
    create: () => withAdmin(async (c) => {
      for (const h of HOSTS) {
        await c.query('CREATE USER ?@? IDENTIFIED BY ?', [user, h, password]);
        await c.query('GRANT SELECT, SHOW VIEW, PROCESS ON *.* TO ?@?', [user, h]);
      }
    }),
    drop: () => withAdmin(async (c) => {
      for (const h of HOSTS) await c.query('DROP USER IF EXISTS ?@?', [user, h]);
    }).catch((err: Error) => console.error(`could not drop MariaDB user ${user}: ${err.message}`)),
  };
}
