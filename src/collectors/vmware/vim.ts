/**
 * The vSphere API calls the collector makes, on a SoapClient: RetrieveServiceContent, Login,
 * CreateContainerView, RetrievePropertiesEx with ContinueRetrievePropertiesEx paging, Logout.
 * Answers are read strictly: a property whose value is not what vim25 says it is, is a
 * PROTOCOL error; a property vSphere does not set (in `missingSet`, or absent) is null.
 */

import { CollectorError } from '../types.ts';
import { child, childrenNamed, type XmlElement } from '../xml.ts';
import { moRefOf, moRefXml, xmlText, type MoRef, type SoapClient } from './soap.ts';

/** Objects per RetrievePropertiesEx page; vCenter may send fewer. */
const PAGE_SIZE = 500;
/** A guard against a server that hands out tokens forever. */
const MAX_PAGES = 10_000;

export interface ServiceContent {
  rootFolder: MoRef;
  propertyCollector: MoRef;
  viewManager: MoRef;
  sessionManager: MoRef;
  about: { fullName: string | null; apiVersion: string | null; apiType: string | null; version: string | null; instanceUuid: string | null };
}

const SERVICE_INSTANCE: MoRef = { type: 'ServiceInstance', value: 'ServiceInstance' };

const text = (el: XmlElement | undefined): string | null => {
  const t = el?.text.trim();
  return t ? t : null;
};

export async function retrieveServiceContent(soap: SoapClient): Promise<ServiceContent> {
  const response = await soap.call('RetrieveServiceContent', moRefXml('_this', SERVICE_INSTANCE));
  const content = child(response, 'returnval');
  const about = child(content, 'about');
  return {
    rootFolder: moRefOf(child(content, 'rootFolder'), 'the root folder'),
    propertyCollector: moRefOf(child(content, 'propertyCollector'), 'the property collector'),
    viewManager: moRefOf(child(content, 'viewManager'), 'the view manager'),
    sessionManager: moRefOf(child(content, 'sessionManager'), 'the session manager'),
    about: {
      fullName: text(child(about, 'fullName')),
      apiVersion: text(child(about, 'apiVersion')),
      apiType: text(child(about, 'apiType')),
      version: text(child(about, 'version')),
      instanceUuid: text(child(about, 'instanceUuid')),
    },
  };
}

export async function login(soap: SoapClient, sc: ServiceContent, username: string, password: string): Promise<void> {
  await soap.call('Login', `${moRefXml('_this', sc.sessionManager)}<userName>${xmlText(username)}</userName><password>${xmlText(password)}</password>`);
}

/** Ends the session (and with it the views it made), within `deadline`. */
export async function logout(soap: SoapClient, sc: ServiceContent, deadline: number): Promise<void> {
  await soap.call('Logout', moRefXml('_this', sc.sessionManager), deadline);
}

/** A view of every object of `types` under `container`, recursively. Logout destroys it. */
export async function containerView(soap: SoapClient, sc: ServiceContent, container: MoRef, types: readonly string[]): Promise<MoRef> {
  const response = await soap.call(
    'CreateContainerView',
    `${moRefXml('_this', sc.viewManager)}${moRefXml('container', container)}${types.map((t) => `<type>${xmlText(t)}</type>`).join('')}<recursive>true</recursive>`,
  );
  return moRefOf(child(response, 'returnval'), 'the container view');
}

/** One object's properties: path -> the `<val>` element (absent: vSphere did not set it). */
export interface ObjectContent {
  ref: MoRef;
  props: Map<string, XmlElement>;
}

/**
 * The properties `paths[type]` of every object in `view`, all pages of them.
 */
export async function retrieveFromView(
  soap: SoapClient,
  sc: ServiceContent,
  view: MoRef,
  paths: Readonly<Record<string, readonly string[]>>,
): Promise<ObjectContent[]> {
  const propSets = Object.entries(paths)
    .map(([type, list]) => `<propSet><type>${xmlText(type)}</type>${list.map((p) => `<pathSet>${xmlText(p)}</pathSet>`).join('')}</propSet>`)
    .join('');
  const objectSet =
    `<objectSet>${moRefXml('obj', view)}<skip>true</skip>` +
    '<selectSet xsi:type="TraversalSpec"><name>view</name><type>ContainerView</type><path>view</path><skip>false</skip></selectSet></objectSet>';
  const collector = moRefXml('_this', sc.propertyCollector);

  const objects: ObjectContent[] = [];
  let response = await soap.call('RetrievePropertiesEx', `${collector}<specSet>${propSets}${objectSet}</specSet><options><maxObjects>${PAGE_SIZE}</maxObjects></options>`);
  for (let page = 1; ; page++) {
    // An empty result has no returnval at all.
    const result = child(response, 'returnval');
    for (const o of childrenNamed(result, 'objects')) objects.push(objectContent(o));
    const token = text(child(result, 'token'));
    if (token === null) return objects;
    if (page >= MAX_PAGES) throw new CollectorError('PROTOCOL', `the vSphere server sent more than ${MAX_PAGES} pages of objects`);
    response = await soap.call('ContinueRetrievePropertiesEx', `${collector}<token>${xmlText(token)}</token>`);
  }
}

function objectContent(el: XmlElement): ObjectContent {
  const ref = moRefOf(child(el, 'obj'), 'an object of the view');
  const props = new Map<string, XmlElement>();
  for (const p of childrenNamed(el, 'propSet')) {
    const name = text(child(p, 'name'));
    const val = child(p, 'val');
    if (name === null || !val) throw new CollectorError('PROTOCOL', `a property of ${ref.type} ${ref.value} has no name or no value`);
    props.set(name, val);
  }
  // missingSet: a property the server could not read for this object (e.g. no permission on it):
  // it stays absent, hence null, like one vSphere does not set.
  return { ref, props };
}

/** Typed readers of one object's properties; a value of the wrong form is a PROTOCOL error. */
export class Props {
  constructor(private readonly o: ObjectContent) {}

  private bad(path: string, what: string, value: string): never {
    throw new CollectorError('PROTOCOL', `${path} of ${this.o.ref.type} ${this.o.ref.value} is "${value.slice(0, 60)}", not ${what}`);
  }

  string(path: string): string | null {
    const val = this.o.props.get(path);
    return val ? val.text : null;
  }

  /** A whole number (xsd:int, xsd:long); vSphere's longs fit in a double for any real size. */
  integer(path: string): number | null {
    const raw = this.o.props.get(path)?.text.trim();
    if (raw === undefined) return null;
    if (!/^-?[0-9]{1,19}$/.test(raw)) this.bad(path, 'a whole number', raw);
    return Number(raw);
  }

  moRef(path: string): MoRef | null {
    const val = this.o.props.get(path);
    return val ? moRefOf(val, path) : null;
  }
}

