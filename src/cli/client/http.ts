/**
 * The client's only way to the server: its HTTP API over node:https (or node:http).
 *
 * Without `--insecure` certificates are verified as usual. With `--insecure` any certificate is
 * accepted on first use and its SHA-256 fingerprint pinned in known_servers.json; afterwards only
 * that certificate is. The check runs on the TLS socket before the request is written, so a
 * different server never sees the password or the session id.
 */
import type { Duplex } from 'node:stream';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { CliError, ApiError } from './errors.ts';
import { hostPort, KnownServers, SESSION_IDLE_MS, SessionStore, type Connection } from './config.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface Reply {
  status: number;
  text: string;
  json: Json;
}

/** What the pin check decided on first use, for the command to tell the user. */
export type PinNotice = (message: string) => void;

/** An https agent that checks the server's certificate against the pinned fingerprint. */
class PinningAgent extends https.Agent {
  constructor(private check: (fingerprint: string) => void) {
    // No TLS session resumption: every connection shows its certificate and is checked.
    super({ keepAlive: true, rejectUnauthorized: false, maxCachedSessions: 0 });
  }

  override createConnection(options: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const { session: _session, ...rest } = options as https.RequestOptions & { session?: unknown };
    const socket = tls.connect({ ...(rest as tls.ConnectionOptions), rejectUnauthorized: false });
    const onError = (err: Error) => callback?.(err, socket);
    socket.once('error', onError);
    socket.once('secureConnect', () => {
      socket.off('error', onError);
      try {
        const cert = socket.getPeerCertificate();
        if (!cert || !cert.fingerprint256) throw new CliError(`${options.host}:${options.port} sent no certificate.`);
        this.check(cert.fingerprint256);
      } catch (err) {
        socket.destroy();
        callback?.(err as Error, socket);
        return;
      }
      callback?.(null, socket);
    });
    return undefined;
  }
}

const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED',
]);

export class Transport {
  readonly agent: http.Agent;

  constructor(
    readonly base: URL,
    insecure: boolean,
    known: KnownServers,
    notice: PinNotice,
  ) {
    if (base.protocol === 'http:') {
      this.agent = new http.Agent({ keepAlive: true });
    } else if (insecure) {
      const key = hostPort(base);
      // Decided once per process: concurrent first connections cannot pin two different certificates.
      let decided: { sha256: string; pinnedAt: string } | undefined;
      this.agent = new PinningAgent((fingerprint) => {
        decided ??= known.get(key);
        if (!decided) {
          known.put(key, fingerprint, new Date());
          decided = { sha256: fingerprint, pinnedAt: '' };
          notice(`pinned the certificate of ${key} (SHA-256 ${fingerprint}) in ${known.path}; from now on --insecure accepts only this certificate there.`);
          return;
        }
        const pin = decided;
        if (pin.sha256.toUpperCase() !== fingerprint.toUpperCase()) {
          throw new CliError([
            `WARNING: THE CERTIFICATE OF ${key} HAS CHANGED. Nothing was sent.`,
            `  pinned${pin.pinnedAt ? ` (${pin.pinnedAt})` : ''}: SHA-256 ${pin.sha256}`,
            `  offered now: SHA-256 ${fingerprint}`,
            'Someone may be intercepting the connection, or the server got a new certificate.',
            `If you know the server's certificate was replaced, remove "${key}" from ${known.path} and connect again.`,
          ].join('\n'));
        }
      });
    } else {
      this.agent = new https.Agent({ keepAlive: true });
    }
  }

  async request(method: string, path: string, o: { headers?: Record<string, string>; body?: unknown; timeoutMs?: number } = {}): Promise<Reply> {
    const res = await this.send(method, path, o);
    try {
      return await readReply(res);
    } catch (err) {
      throw this.connectionError(err as Error);
    }
  }

  /**
   * A GET whose response is handed over as soon as its head arrives (the event stream), through
   * the same agent as every other request: the same certificate checks and pin.
   */
  open(path: string, headers: Record<string, string> = {}, timeoutMs = 30_000): Promise<http.IncomingMessage> {
    return this.send('GET', path, { headers: { Accept: 'text/event-stream', 'Cache-Control': 'no-cache', ...headers }, timeoutMs, stream: true });
  }

  /**
   * Sends a request and resolves with the response head. A GET that fails with ECONNRESET on a
   * reused keep-alive socket (the server had just closed it) is sent once more on a new one.
   */
  private send(method: string, path: string, o: { headers?: Record<string, string>; body?: unknown; timeoutMs?: number; stream?: boolean }, retried = false): Promise<http.IncomingMessage> {
    const url = new URL(path, this.base);
    const payload = o.body === undefined ? undefined : JSON.stringify(o.body);
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'census-cli', ...o.headers };
    if (payload !== undefined) headers['Content-Type'] = 'application/json';
    const lib = url.protocol === 'http:' ? http : https;
    const timeoutMs = o.timeoutMs ?? 120_000;
    return new Promise((resolve, reject) => {
      let answered = false;
      const req = lib.request(url, { method, headers, agent: this.agent }, (res) => {
        answered = true;
        // For a stream the timeout is for the answer's head only: its body may stay quiet for long.
        if (o.stream) req.setTimeout(0);
        resolve(res);
      });
      req.on('error', (err) => {
        if (answered) return; // the response reports it
        if (!retried && method === 'GET' && req.reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET') {
          this.send(method, path, o, true).then(resolve, reject);
          return;
        }
        reject(this.connectionError(err));
      });
      req.setTimeout(timeoutMs, () => req.destroy(new CliError(`${method} ${url.pathname} got no answer from ${this.base.origin} within ${Math.round(timeoutMs / 1000)} s.`)));
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  private connectionError(err: Error): Error {
    if (err instanceof CliError) return err;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const where = this.base.origin;
    if (UNTRUSTED.has(code)) {
      return new CliError(`the certificate of ${where} is not trusted (${err.message}). If it is Census's own self-signed certificate, ` +
        'connect once with --insecure to accept it and pin its fingerprint (or set NODE_EXTRA_CA_CERTS to a CA that signed it).');
    }
    if (code === 'ECONNREFUSED') return new CliError(`cannot connect to ${where}: connection refused (is Census running there?)`);
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new CliError(`cannot connect to ${where}: unknown host ${this.base.hostname}`);
    if (code === 'EPROTO' || /wrong version number|packet length too long/i.test(err.message)) {
      return new CliError(`cannot talk TLS to ${where} (${err.message}); is it plain HTTP? Then use an http:// URL.`);
    }
    return new CliError(`cannot connect to ${where}: ${err.message}`);
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Reads a whole response into a Reply (the body parsed as JSON when it is JSON). */
export function readReply(res: http.IncomingMessage): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', reject);
    res.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let json: Json;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ status: res.statusCode ?? 0, text, json });
    });
  });
}

/** The server's SPP error (`{id, description}`, or wrapped as `{statusCode, response}` under /ngp). */
export function apiError(r: Reply): ApiError {
  const body = (r.json && typeof r.json === 'object' ? r.json : {}) as Json;
  const inner = body.response && typeof body.response === 'object' ? body.response : body;
  const description: string = typeof inner.description === 'string' ? inner.description
    : typeof body.description === 'string' ? body.description
    : r.text.trim().slice(0, 300) || http.STATUS_CODES[r.status] || 'no description';
  const id: string | undefined = typeof inner.id === 'string' ? inner.id : typeof body.id === 'string' ? body.id : undefined;
  return new ApiError(r.status, id, description);
}

export type Query = Record<string, string | number | undefined>;

export function withQuery(path: string, query: Query | undefined): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}${path.includes('?') ? '&' : '?'}${qs}` : path;
}

const SESSION_GONE = new Set(['XSBSessionDoesNotExistException', 'XSBMissingSessionidException']);

const sessionGone = (r: Reply): boolean => r.status === 401 && SESSION_GONE.has(r.json?.id ?? r.json?.response?.id);

/**
 * A logged-in API client. It reuses the login session saved by `census login` for this URL; it
 * logs in with the password when there is none (or the server forgot it), and a session it opened
 * just for this command is closed again at the end.
 */
export class Api {
  private sessionId: string | undefined;
  /** True if this process opened the session (and so closes it in `close()`). */
  private ownSession = false;
  /** True if the session came from (or goes to) sessions.json. */
  private storedSession = false;
  private used = false;

  constructor(
    readonly transport: Transport,
    readonly conn: Connection,
    private sessions: SessionStore,
    private now: () => number = Date.now,
  ) {}

  get url(): URL {
    return this.conn.url;
  }

  /** POST /api/endeavour/session with Basic credentials; answers the server's login reply. */
  async login(): Promise<Json> {
    const { user, password } = this.conn;
    if (!user) throw new CliError('no user name: give --user, set CENSUS_USER, or run `census login` first.', 2);
    if (password === undefined) throw new CliError(`no password for ${user}: give --password, set CENSUS_PASSWORD, or run \`census login\` first.`, 2);
    const r = await this.transport.request('POST', '/api/endeavour/session', {
      headers: { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
    });
    if (r.status !== 200) throw apiError(r);
    const sid = r.json?.sessionid;
    if (typeof sid !== 'string') throw new CliError(`${this.url.origin} answered the login without a session id; is it Census (or SPP)?`);
    this.sessionId = sid;
    this.ownSession = true;
    return r.json;
  }

  /** Keeps the current session in sessions.json (what `census login` does). */
  saveSession(): void {
    if (!this.sessionId || !this.conn.user) return;
    this.sessions.put(this.url, { user: this.conn.user, sessionId: this.sessionId, expiresAt: this.now() + SESSION_IDLE_MS });
    this.storedSession = true;
    this.ownSession = false;
  }

  private async ensureSession(): Promise<void> {
    if (this.sessionId) return;
    const stored = this.sessions.get(this.url);
    const usable = stored && (!this.conn.user || stored.user === this.conn.user);
    // A session past its expiry is tried only when there is no password to log in again with.
    if (usable && (stored.expiresAt > this.now() || this.conn.password === undefined)) {
      this.sessionId = stored.sessionId;
      this.storedSession = true;
      return;
    }
    if (this.conn.password === undefined && this.conn.user === undefined) {
      throw new CliError(`not logged in to ${this.url.origin}: run \`census login\` (or give --user and --password).`, 2);
    }
    await this.login();
    // Replace an expired stored session for the same user with the new one.
    if (usable) this.saveSession();
  }

  /** One API call with the session; on a forgotten session it logs in again once (if it can). */
  async request(method: string, path: string, o: { query?: Query; body?: unknown; timeoutMs?: number } = {}): Promise<Reply> {
    await this.ensureSession();
    const target = withQuery(path, o.query);
    const send = () => this.transport.request(method, target, {
      headers: { 'X-Endeavour-Sessionid': this.sessionId! },
      ...(o.body !== undefined ? { body: o.body } : {}),
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    });
    let r = await send();
    if (sessionGone(r)) {
      await this.renewSession();
      r = await send();
    }
    // Any answer but a 401 means the server took the session (and restarted its idle timeout).
    if (r.status !== 401) this.used = true;
    if (r.status >= 400) throw apiError(r);
    return r;
  }

  /** The server forgot the session: log in again (and keep the new one where the old one was). */
  private async renewSession(): Promise<void> {
    const wasStored = this.storedSession;
    if (wasStored) this.sessions.remove(this.url);
    this.sessionId = undefined;
    this.storedSession = false;
    if (this.conn.password === undefined || !this.conn.user) {
      throw new CliError(`the login session for ${this.url.origin} has expired; run \`census login\` again.`);
    }
    await this.login();
    if (wasStored) this.saveSession();
  }

  /**
   * Opens a streaming GET (the event stream) with the session, logging in again once like
   * request() does. Resolves with the open response (status 200); any other answer is thrown as
   * its ApiError, a connection failure as a CliError.
   */
  async openStream(path: string, o: { query?: Query; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<http.IncomingMessage> {
    await this.ensureSession();
    const target = withQuery(path, o.query);
    const send = () => this.transport.open(target, { ...o.headers, 'X-Endeavour-Sessionid': this.sessionId! }, o.timeoutMs);
    let res = await send();
    if (res.statusCode !== 200) {
      const r = await readReply(res).catch((err: Error) => { throw new CliError(`cannot read the answer of ${this.url.origin}: ${err.message}`); });
      if (!sessionGone(r)) {
        if (r.status !== 401) this.used = true;
        throw apiError(r);
      }
      await this.renewSession();
      res = await send();
      if (res.statusCode !== 200) {
        const again = await readReply(res).catch((err: Error) => { throw new CliError(`cannot read the answer of ${this.url.origin}: ${err.message}`); });
        throw apiError(again);
      }
    }
    this.used = true;
    return res;
  }

  async get(path: string, query?: Query): Promise<Json> {
    return (await this.request('GET', path, query ? { query } : {})).json;
  }

  async post(path: string, body?: unknown, query?: Query, timeoutMs?: number): Promise<Json> {
    return (await this.request('POST', path, { ...(query ? { query } : {}), ...(body !== undefined ? { body } : {}), ...(timeoutMs ? { timeoutMs } : {}) })).json;
  }

  async delete(path: string): Promise<void> {
    await this.request('DELETE', path);
  }

  /**
   * Every item of an SPP collection (`{total, <key>: [...]}`), page by page, up to `limit` items.
   */
  async list(path: string, key: string, query: Query = {}, limit = Infinity, pageSize = 1000): Promise<Json[]> {
    const items: Json[] = [];
    let start = Number(query.pageStartIndex ?? 0);
    for (;;) {
      const size = Math.min(pageSize, limit - items.length);
      const page = await this.get(path, { ...query, pageSize: size, pageStartIndex: start });
      const got: Json[] = Array.isArray(page?.[key]) ? page[key] : [];
      items.push(...got);
      start += got.length;
      if (!got.length || items.length >= limit || start >= Number(page?.total ?? 0)) return items;
    }
  }

  /** Ends the command: refreshes the stored session's expiry, or logs out a session of our own. */
  async close(): Promise<void> {
    try {
      if (this.sessionId && this.storedSession && this.used) {
        const s = this.sessions.get(this.url);
        if (s && s.sessionId === this.sessionId) this.sessions.put(this.url, { ...s, expiresAt: this.now() + SESSION_IDLE_MS });
      } else if (this.sessionId && this.ownSession) {
        await this.transport.request('DELETE', '/api/endeavour/session', { headers: { 'X-Endeavour-Sessionid': this.sessionId }, timeoutMs: 5_000 }).catch(() => undefined);
      }
    } finally {
      this.transport.close();
    }
  }

  /** Logs out the current session (DELETE /api/endeavour/session) and forgets it. */
  async logout(): Promise<boolean> {
    const stored = this.sessions.get(this.url);
    const sid = this.sessionId ?? stored?.sessionId;
    this.sessions.remove(this.url);
    this.sessionId = undefined;
    this.storedSession = false;
    this.ownSession = false;
    if (!sid) return false;
    await this.transport.request('DELETE', '/api/endeavour/session', { headers: { 'X-Endeavour-Sessionid': sid }, timeoutMs: 10_000 }).catch(() => undefined);
    return true;
  }
}
