/**
 * The one rule for a KVM host's libvirt connection URI (virsh -c URI), shared by registration
 * (services) and the collector, so that a URI the collector would refuse is refused when it is
 * registered. The URI ends up in a shell script on the host, so the rule is strict: a local
 * driver's scheme (no "+ssh"/"+tcp" transport: virsh runs on the host itself), ":///", a path and
 * an optional query, all from a small set of characters that mean nothing to a shell.
 */

export const DEFAULT_LIBVIRT_URI = 'qemu:///system';

const MAX_URI_LENGTH = 512;
const SCHEMES = ['qemu', 'test', 'xen', 'lxc', 'libxl', 'bhyve', 'vbox', 'ch', 'vz', 'openvz'];
const URI = new RegExp(`^(${SCHEMES.join('|')}):///[A-Za-z0-9._/-]*(\\?[A-Za-z0-9._/=&%,-]+)?$`);

/** Why `uri` is not acceptable, or null when it is. The message shows the URI with unprintable characters as `?`. */
export function libvirtUriProblem(uri: string): string | null {
  if (uri.length > MAX_URI_LENGTH) return `the libvirt URI is longer than ${MAX_URI_LENGTH} characters`;
  if (!URI.test(uri)) {
    return `"${uri.replace(/[^\x20-\x7e]/g, '?').slice(0, 100)}" is not a local libvirt URI: expected SCHEME:///PATH[?QUERY] with SCHEME one of ${SCHEMES.join(', ')} (e.g. qemu:///system), and only letters, digits and . _ / - (= & % , in the query)`;
  }
  return null;
}
