/**
 * The libvirt connection URI used on the KVM host (virsh -c URI). Which URIs are accepted is
 * core's rule (core/libvirt-uri.ts), the same one registration applies; the collector checks it
 * again before anything runs (a row may predate the rule), and single-quotes the URI besides.
 */
import { DEFAULT_LIBVIRT_URI } from '../../core/libvirt-uri.ts';

export { DEFAULT_LIBVIRT_URI, libvirtUriProblem } from '../../core/libvirt-uri.ts';

/** The URI to use: the given one, or the default for a host registered without one. */
export function effectiveUri(uri: string | null | undefined): string {
  return uri === undefined || uri === null || uri === '' ? DEFAULT_LIBVIRT_URI : uri;
}

/** `text` as one single-quoted sh word. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
