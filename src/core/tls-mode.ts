/**
 * Transport encryption of a login to an application server. In core because both sides of the
 * one-way rule need it: the API checks a registration's `tls` against it, collectors act on it.
 */

/**
 * "disable" (plain), "require" (encrypted, any certificate), "verify" (encrypted, certificate
 * checked against the system's CAs and the host name).
 */
export type TlsMode = 'disable' | 'require' | 'verify';
export const TLS_MODES: readonly TlsMode[] = ['disable', 'require', 'verify'];
