/**
 * A real SMTP server for tests (the smtp-server library, as a mail relay would be) on a loopback
 * port: AUTH PLAIN/LOGIN with a user and password the test chooses, required; STARTTLS (or
 * implicit TLS) with a self-signed certificate made for the test; every message it accepts is
 * parsed (mailparser) and kept with how its session looked (TLS or not, who logged in). It can
 * be told to refuse the next messages with a reply code (451 to see a retry, 550 to see a
 * give-up), or to go silent: accept connections and never say a word.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { generate } from 'selfsigned';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';

export interface ReceivedMail {
  /** The envelope, as the client gave it. */
  from: string | null;
  to: string[];
  /** The session had been upgraded to TLS (STARTTLS) or was TLS from the start. */
  secure: boolean;
  /** The user the session logged in as (undefined: no AUTH). */
  user: string | undefined;
  parsed: ParsedMail;
  raw: string;
}

export interface Refusal {
  code: number;
  message: string;
  /** How many more messages to refuse (each counts at MAIL FROM). */
  times: number;
}

export interface TestSmtpServer {
  host: string;
  port: number;
  user: string;
  password: string;
  /** The certificate the server shows (self-signed, for 127.0.0.1 and localhost): trust it as the CA. */
  cert: string;
  received: ReceivedMail[];
  /** Logins tried, in order: the user and whether the session was TLS by then. */
  logins: { user: string; ok: boolean; secure: boolean }[];
  /** Connections accepted (silent ones included). */
  connections: number;
  /** Refuse the next `times` messages with `code`. */
  refuse(code: number, times?: number, message?: string): void;
  /** true: accept connections and never answer (no greeting); false: answer again. */
  silent(on: boolean): void;
  /** Resolves when `n` messages have arrived in all (or fails at the deadline). */
  waitForMessages(n: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

export interface SmtpServerOptions {
  user?: string;
  password?: string;
  /** TLS from the first byte (as on port 465) instead of STARTTLS. */
  implicitTls?: boolean;
}

async function selfSignedCertificate(): Promise<{ key: string; cert: string }> {
  const pems = await generate([{ name: 'commonName', value: 'census-test-smtp' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - 60_000),
    notAfterDate: new Date(Date.now() + 2 * 24 * 3_600_000),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

export async function startSmtpServer(o: SmtpServerOptions = {}): Promise<TestSmtpServer> {
  const user = o.user ?? 'census-mailer';
  const password = o.password ?? 'Smtp-Pass-1';
  const { key, cert } = await selfSignedCertificate();
  const received: ReceivedMail[] = [];
  const logins: TestSmtpServer['logins'] = [];
  let refusal: Refusal | undefined;
  let quiet = false;
  let connections = 0;
  const waiters = new Set<() => void>();
  const silentSockets = new Set<{ close: () => void }>();

  const server = new SMTPServer({
    secure: o.implicitTls ?? false,
    key,
    cert,
    name: 'census-test-smtp',
    authMethods: ['PLAIN', 'LOGIN'],
    // AUTH is required, and (without allowInsecureAuth) only offered once the session is TLS.
    authOptional: false,
    logger: false,
    disableReverseLookup: true,
    closeTimeout: 200,
    size: 10 * 1024 * 1024,
    onConnect(_session: SMTPServerSession, callback: (err?: Error | null) => void) {
      connections++;
      // Silent: never call back, so the greeting never comes.
      if (quiet) return;
      callback();
    },
    onAuth(auth, session, callback) {
      const ok = auth.username === user && auth.password === password;
      logins.push({ user: auth.username ?? '', ok, secure: session.secure });
      if (!ok) return callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
      callback(null, { user: auth.username });
    },
    onMailFrom(_address, _session, callback) {
      if (refusal && refusal.times > 0) {
        refusal.times--;
        const { code, message } = refusal;
        if (refusal.times === 0) refusal = undefined;
        return callback(Object.assign(new Error(message), { responseCode: code }));
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        simpleParser(raw).then((parsed) => {
          received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
            to: session.envelope.rcptTo.map((r) => r.address),
            secure: session.secure,
            user: session.user as string | undefined,
            parsed,
            raw,
          });
          for (const w of waiters) w();
          callback();
        }, (err: Error) => callback(err));
      });
    },
  });
  // Connections the client drops (a timeout on its side) end in errors here: expected.
  server.on('error', () => {});
  server.server.on('connection', (socket) => {
    if (!quiet) return;
    const entry = { close: () => socket.destroy() };
    silentSockets.add(entry);
    socket.once('close', () => silentSockets.delete(entry));
  });
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  const port = (server.server.address() as AddressInfo).port;

  return {
    host: '127.0.0.1',
    port,
    user,
    password,
    cert,
    received,
    logins,
    get connections() {
      return connections;
    },
    refuse(code, times = 1, message = code >= 500 ? 'Requested action not taken: refused by the test' : 'Try again later (test)') {
      refusal = { code, times, message };
    },
    silent(on) {
      quiet = on;
    },
    waitForMessages(n, timeoutMs = 20_000) {
      if (received.length >= n) return Promise.resolve(received.slice());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${n} message(s); ${received.length} arrived`));
        }, timeoutMs);
        const check = () => {
          if (received.length < n) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(received.slice());
        };
        waiters.add(check);
      });
    },
    async close() {
      for (const s of silentSockets) s.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  } satisfies TestSmtpServer;
}
