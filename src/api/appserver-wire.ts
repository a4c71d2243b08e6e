/** An application server in SPP's wire shape (spec §7.1), the way /api/appserver and /ngp/appserver answer it. */
import type { AppServer } from '../core/types.ts';
import { DEFAULT_SITE_ID, DEFAULT_SITE_NAME } from '../core/sites.ts';
import { link } from './links.ts';
import type { AppServerWire } from './schemas/index.ts';

export function appserverWire(base: string, a: AppServer): AppServerWire {
  const self = `/api/appserver/${a.id}`;
  const identity = a.identityId === null ? null : { href: `${base}/api/identity/${a.useKeyAuthentication ? 'key' : 'user'}/${a.identityId}` };
  return {
    links: {
      self: link(base, self, 'self'),
      up: link(base, '/api/appserver', 'up'),
      edit: link(base, self, 'update'),
      delete: link(base, self, 'delete'),
      inventory: link(base, `${self}?action=inventory&actionname=start`, 'action', 'Inventory'),
      test: link(base, `${self}?action=test`, 'action', 'Test'),
      instances: link(base, `/api/application/${a.applicationType}/instance?${new URLSearchParams({ filter: JSON.stringify([{ property: 'appserverId', value: String(a.id) }]) })}`),
    },
    id: String(a.id),
    name: a.name,
    hostAddress: a.hostAddress,
    comment: a.comment,
    catalogEligible: true,
    serverType: 'physical',
    vsphereId: null,
    applicationType: a.applicationType,
    applicationTypes: [a.applicationType],
    osType: a.osType,
    useKeyAuthentication: a.useKeyAuthentication,
    tls: a.tlsMode,
    logicalDelete: false,
    oskey: a.useKeyAuthentication ? identity : null,
    osuser: a.useKeyAuthentication ? null : identity,
    appCredentials: [],
    portNumber: a.portNumber,
    opProperties: { maxConcurrency: a.maxConcurrency },
    application: true,
    script: false,
    metadataPath: null,
    siteName: a.siteName ?? DEFAULT_SITE_NAME,
    siteId: String(a.siteId ?? DEFAULT_SITE_ID),
    nodeId: null,
    type: 'appserver',
    resourceType: 'appserver',
    rbacPath: `root:0/appserver.all:0/appserver:${a.id}`,
  };
}
