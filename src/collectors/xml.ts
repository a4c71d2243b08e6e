/**
 * A small, strict XML parser for what the collectors read: virsh's documents (dumpxml,
 * pool-dumpxml, net-dumpxml) for kvm, vSphere's SOAP answers for vmware. Elements, attributes,
 * text, the five predefined entities and character references, comments, CDATA and an XML
 * declaration. No DTDs, no external entities, no namespaces processing (a prefixed name such as
 * `soapenv:Body` is kept whole; `localName` drops the prefix): a document that leaves any of
 * that, or is not well formed, is refused with an XmlError (never a half-read tree).
 */

export interface XmlElement {
  name: string;
  attrs: Readonly<Record<string, string>>;
  children: XmlElement[];
  /** The element's own text (its text nodes joined, child elements left out). */
  text: string;
}

export class XmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XmlError';
  }
}

/** Deeper than any libvirt document; a guard against a runaway input, not a limit in practice. */
const MAX_DEPTH = 64;
const NAME = /[A-Za-z_:][A-Za-z0-9_:.-]*/y;
const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(raw: string, where: () => string): string {
  if (!raw.includes('&')) return raw;
  return raw.replace(/&([^;&\s]*);?/g, (whole, ref: string) => {
    if (!whole.endsWith(';')) throw new XmlError(`bad entity reference "${whole}" ${where()}`);
    if (ref in ENTITIES) return ENTITIES[ref]!;
    const m = /^#(?:x([0-9A-Fa-f]{1,6})|([0-9]{1,7}))$/.exec(ref);
    if (m) {
      const code = m[1] !== undefined ? parseInt(m[1], 16) : parseInt(m[2]!, 10);
      if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
        throw new XmlError(`bad character reference "${whole}" ${where()}`);
      }
      return String.fromCodePoint(code);
    }
    throw new XmlError(`unknown entity "${whole}" ${where()}`);
  });
}

/** Parses one document with one root element. */
export function parseXml(input: string): XmlElement {
  let pos = 0;
  const where = () => {
    const line = input.slice(0, pos).split('\n').length;
    return `at line ${line}`;
  };
  const fail = (what: string): never => {
    throw new XmlError(`${what} ${where()}`);
  };

  const skipSpace = () => {
    while (pos < input.length && /\s/.test(input[pos]!)) pos++;
  };
  const readName = (): string => {
    NAME.lastIndex = pos;
    const m = NAME.exec(input);
    if (!m) fail('expected a name');
    pos += m![0].length;
    return m![0];
  };
  /** Comments and processing instructions (the XML declaration) between elements. */
  const skipMisc = (allowDeclaration: boolean) => {
    for (;;) {
      skipSpace();
      if (input.startsWith('<!--', pos)) {
        const end = input.indexOf('-->', pos + 4);
        if (end < 0) fail('unterminated comment');
        pos = end + 3;
      } else if (input.startsWith('<?', pos)) {
        if (!allowDeclaration) fail('unexpected processing instruction');
        const end = input.indexOf('?>', pos + 2);
        if (end < 0) fail('unterminated processing instruction');
        pos = end + 2;
      } else if (input.startsWith('<!', pos)) {
        fail('DOCTYPE and other declarations are not accepted');
      } else {
        return;
      }
    }
  };

  const parseElement = (depth: number): XmlElement => {
    if (depth > MAX_DEPTH) fail('elements nested too deeply');
    if (input[pos] !== '<') fail('expected an element');
    pos++;
    const name = readName();
    const attrs: Record<string, string> = {};
    for (;;) {
      const before = pos;
      skipSpace();
      if (input.startsWith('/>', pos)) {
        pos += 2;
        return { name, attrs, children: [], text: '' };
      }
      if (input[pos] === '>') {
        pos++;
        break;
      }
      if (pos === before) fail(`expected whitespace, ">" or "/>" in <${name}>`);
      const attr = readName();
      skipSpace();
      if (input[pos] !== '=') fail(`expected "=" after attribute ${attr} of <${name}>`);
      pos++;
      skipSpace();
      const quote = input[pos];
      if (quote !== '"' && quote !== "'") fail(`expected a quoted value for attribute ${attr} of <${name}>`);
      const end = input.indexOf(quote!, pos + 1);
      if (end < 0) fail(`unterminated value of attribute ${attr} of <${name}>`);
      const raw = input.slice(pos + 1, end);
      if (raw.includes('<')) fail(`"<" in the value of attribute ${attr} of <${name}>`);
      if (Object.prototype.hasOwnProperty.call(attrs, attr)) fail(`attribute ${attr} repeated in <${name}>`);
      attrs[attr] = decode(raw, where);
      pos = end + 1;
    }

    const children: XmlElement[] = [];
    let text = '';
    for (;;) {
      if (pos >= input.length) fail(`<${name}> is not closed`);
      if (input.startsWith('</', pos)) {
        pos += 2;
        const closing = readName();
        if (closing !== name) fail(`</${closing}> closes <${name}>`);
        skipSpace();
        if (input[pos] !== '>') fail(`expected ">" after </${closing}`);
        pos++;
        return { name, attrs, children, text };
      }
      if (input.startsWith('<!--', pos)) {
        const end = input.indexOf('-->', pos + 4);
        if (end < 0) fail('unterminated comment');
        pos = end + 3;
      } else if (input.startsWith('<![CDATA[', pos)) {
        const end = input.indexOf(']]>', pos + 9);
        if (end < 0) fail('unterminated CDATA section');
        text += input.slice(pos + 9, end);
        pos = end + 3;
      } else if (input.startsWith('<!', pos) || input.startsWith('<?', pos)) {
        fail(`unexpected declaration inside <${name}>`);
      } else if (input[pos] === '<') {
        children.push(parseElement(depth + 1));
      } else {
        const next = input.indexOf('<', pos);
        const end = next < 0 ? input.length : next;
        const raw = input.slice(pos, end);
        if (raw.includes(']]>')) fail('"]]>" in text');
        text += decode(raw, where);
        pos = end;
      }
    }
  };

  if (input.charCodeAt(0) === 0xfeff) pos = 1;
  skipMisc(true);
  if (pos >= input.length) fail('no root element');
  const root = parseElement(0);
  skipMisc(false);
  if (pos < input.length) fail('text after the root element');
  return root;
}

/** The first child element called `name`, if any. */
export function child(el: XmlElement | undefined, name: string): XmlElement | undefined {
  return el?.children.find((c) => c.name === name);
}

/** Every child element called `name`. */
export function childrenNamed(el: XmlElement | undefined, name: string): XmlElement[] {
  return el ? el.children.filter((c) => c.name === name) : [];
}

/** The element at a path of child names ("os/type"). */
export function at(el: XmlElement | undefined, path: string): XmlElement | undefined {
  let cur = el;
  for (const part of path.split('/')) cur = child(cur, part);
  return cur;
}

/** An attribute, or null when absent. */
export function attr(el: XmlElement | undefined, name: string): string | null {
  return el && Object.prototype.hasOwnProperty.call(el.attrs, name) ? el.attrs[name]! : null;
}

/** The trimmed text at a path, or null when the element is absent. */
export function textAt(el: XmlElement | undefined, path: string): string | null {
  const found = at(el, path);
  return found ? found.text.trim() : null;
}

/** An element's or attribute's name without its namespace prefix ("soapenv:Body" -> "Body"). */
export const localName = (name: string): string => name.slice(name.indexOf(':') + 1);
