/**
 * A minimal SOAP client for the vSphere Web Services API (vim25), spoken over node:https (or
 * node:http for tls "disable") to `https://host:port/sdk`. One keep-alive connection per run;
 * the session cookie Login sets is sent back on every later call. Answers are parsed with the
 * strict XML parser; a SOAP fault becomes a CollectorError by its vSphere fault type.
 *
 * Every call is raced against the run's deadline and abort signal; either ends the connection.
 */

import * as http from 'node:http';
import * as https from 'node:https';
import { isIP } from 'node:net';
import { raceDeadline } from '../deadline.ts';
import { classifyNetworkError, describeServer, errorMessage, scrubSecret } from '../network-errors.ts';
import { CollectorError, type CollectOptions, type CollectTarget } from '../types.ts';
import { child, localName, parseXml, XmlError, type XmlElement } from '../xml.ts';

/** The vim25 version we ask for: 6.0 has all we read, and every vCenter since 2015 serves it. */
const SOAP_ACTION = 'urn:vim25/6.0';
/** More than any page of 500 VMs; a guard against a runaway answer. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;
export const WHAT = 'vSphere server';

/** Escapes text for an XML element or attribute value. */
export const xmlText = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

/** A managed object reference, `<x type="Folder">group-d1</x>`. */
export interface MoRef {
  type: string;
  value: string;
}

export const moRefXml = (tag: string, ref: MoRef): string => `<${tag} type="${xmlText(ref.type)}">${xmlText(ref.value)}</${tag}>`;

export function moRefOf(el: XmlElement | undefined, what: string): MoRef {
  const type = el?.attrs.type;
  const value = el?.text.trim();
  if (!el || !type || !value) throw new CollectorError('PROTOCOL', `the vSphere answer has no managed object reference for ${what}`);
  return { type, value };
}

/** vSphere fault types (the detail's element, "InvalidLoginFault" or xsi:type "InvalidLogin") and what they mean for us. */
const FAULT_CODES: Record<string, CollectorError['code']> = {
  InvalidLogin: 'AUTH',
  NotAuthenticated: 'AUTH',
  NoPermission: 'PERMISSION',
  RestrictedVersion: 'PERMISSION',
};

export class SoapClient {
  private readonly server: string;
  private readonly agent: http.Agent;
  private readonly path = '/sdk';
  private cookie: string | null = null;
  private connected = false;
  readonly deadline: number;

  constructor(
    private readonly target: CollectTarget,
    private readonly options: CollectOptions,
    private readonly activity: string,
  ) {
    this.server = describeServer(target);
    this.deadline = Date.now() + options.timeoutMs;
    const secure = target.tls === 'require' || target.tls === 'verify';
    // One socket, kept alive: vCenter ties nothing to it, but it saves a handshake per call.
    this.agent = secure
      ? new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: target.tls === 'verify' })
      : new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  get secure(): boolean {
    return this.target.tls === 'require' || this.target.tls === 'verify';
  }

  /**
   * Calls `method` with the body's inner XML and returns its `<returnval>` elements' parent
   * (the `<methodResponse>` element). A fault throws a CollectorError.
   */
  async call(method: string, inner: string, deadline = this.deadline): Promise<XmlElement> {
    if (this.options.signal.aborted) throw this.cancelled();
    const envelope =
      '<?xml version="1.0" encoding="UTF-8"?>' +
      '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
      `<soapenv:Body><${method} xmlns="urn:vim25">${inner}</${method}></soapenv:Body></soapenv:Envelope>`;
    try {
      const { status, body } = await raceDeadline(this.post(envelope), deadline, this.options.signal, {
        timeout: () => this.timedOut(method),
        cancelled: () => this.cancelled(),
      });
      return this.answer(method, status, body);
    } catch (err) {
      if (err instanceof CollectorError) {
        if (err.code === 'TIMEOUT' || err.code === 'CANCELLED') this.close();
        throw err;
      }
      throw this.classify(err);
    }
  }

  /** Ends the connection. */
  close(): void {
    this.agent.destroy();
  }

  private post(envelope: string): Promise<{ status: number; body: string }> {
    const payload = Buffer.from(envelope, 'utf8');
    const headers: http.OutgoingHttpHeaders = {
      'content-type': 'text/xml; charset=utf-8',
      'content-length': payload.length,
      soapaction: SOAP_ACTION,
      ...(this.cookie ? { cookie: this.cookie } : {}),
    };
    const request = this.secure ? https.request : http.request;
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: this.target.host,
          port: this.target.port ?? undefined,
          path: this.path,
          method: 'POST',
          headers,
          agent: this.agent,
          // SNI carries host names only; an address is checked against the certificate's IP SANs.
          ...(this.secure && isIP(this.target.host) === 0 ? { servername: this.target.host } : {}),
        },
        (res) => {
          this.connected = true;
          const cookie = sessionCookie(res.headers['set-cookie']);
          if (cookie) this.cookie = cookie;
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_ANSWER_BYTES) {
              req.destroy(new CollectorError('PROTOCOL', `${this.server} sent an answer larger than ${MAX_ANSWER_BYTES} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('socket', (socket) => socket.once('secureConnect', () => (this.connected = true)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  private answer(method: string, status: number, body: string): XmlElement {
    if (status !== 200 && status !== 500) {
      throw new CollectorError('PROTOCOL', `${this.server} answered HTTP ${status} at ${this.path}: it is not a vSphere SDK endpoint${this.plainHint()}`);
    }
    let doc: XmlElement;
    try {
      doc = parseXml(body);
    } catch (err) {
      if (err instanceof XmlError) {
        throw new CollectorError('PROTOCOL', `${this.server} answered ${method} with what is not well-formed XML (${err.message}): it is not a vSphere SDK endpoint${this.plainHint()}`);
      }
      throw err;
    }
    const soapBody = localName(doc.name) === 'Envelope' ? doc.children.find((c) => localName(c.name) === 'Body') : undefined;
    if (!soapBody) throw new CollectorError('PROTOCOL', `${this.server} answered ${method} with <${doc.name}>, not a SOAP envelope`);
    const fault = soapBody.children.find((c) => localName(c.name) === 'Fault');
    if (fault) throw this.fault(method, fault);
    const response = soapBody.children.find((c) => localName(c.name) === `${method}Response`);
    if (!response) throw new CollectorError('PROTOCOL', `${this.server} answered ${method} without a ${method}Response`);
    return response;
  }

  private fault(method: string, fault: XmlElement): CollectorError {
    const text = scrubSecret(child(fault, 'faultstring')?.text.trim() || 'no message', this.target.password);
    const detail = child(fault, 'detail')?.children[0];
    const xsiType = detail ? Object.entries(detail.attrs).find(([k]) => localName(k) === 'type' && k !== 'type')?.[1] : undefined;
    const type = (xsiType ? localName(xsiType) : detail ? localName(detail.name) : '').replace(/Fault$/, '');
    const code = FAULT_CODES[type];
    if (code === 'AUTH') {
      return new CollectorError('AUTH', `${this.server} refused the login of user "${this.target.username}": ${text}`);
    }
    if (code === 'PERMISSION') {
      return new CollectorError('PERMISSION', `user "${this.target.username}" may not call ${method} on ${this.server}: ${text}`);
    }
    return new CollectorError('PROTOCOL', `${this.server} answered ${method} with the fault ${type || 'without a type'}: ${text}`);
  }

  private classify(err: unknown): CollectorError {
    const network = classifyNetworkError(err, this.target, WHAT);
    if (network) {
      if (network.code === 'PROTOCOL') return new CollectorError('PROTOCOL', network.message + this.plainHint());
      return network;
    }
    const message = errorMessage(err, this.target);
    if (/parse error|HPE_|wrong version number|packet length too long|unknown protocol/i.test(message)) {
      const expected = this.secure ? 'TLS' : 'plain HTTP';
      return new CollectorError('PROTOCOL', `${this.server} does not speak ${expected} HTTP: ${message}${this.plainHint()}`);
    }
    return new CollectorError('UNKNOWN', `talking to ${this.server} failed: ${message}`);
  }

  /** A vCenter serves its SDK over HTTPS only: say so when a plain-HTTP run went wrong. */
  private plainHint(): string {
    return this.secure ? '' : ' (tls is "disable", so Census spoke plain HTTP; a vCenter answers HTTPS only: use tls "require" or "verify")';
  }

  private timedOut(method: string): CollectorError {
    const stalled = this.connected ? `waiting for the answer to ${method}` : this.secure ? 'the TLS handshake never completed' : 'the connection was never established';
    return new CollectorError('TIMEOUT', `${this.activity} ${WHAT} ${this.server} did not finish within ${this.options.timeoutMs} ms: ${stalled}`);
  }

  cancelled(): CollectorError {
    return new CollectorError('CANCELLED', `${this.activity} ${WHAT} ${this.server} was cancelled`);
  }
}

/** The vSphere session cookie from Set-Cookie (`vmware_soap_session="…"; Path=/; …`), as a Cookie header. */
function sessionCookie(setCookie: string[] | undefined): string | null {
  for (const line of setCookie ?? []) {
    const pair = line.split(';')[0]!.trim();
    if (/^vmware_soap_session=/i.test(pair)) return pair;
  }
  return null;
}
