/** `census inventory show`: what the inventory found, instance by instance. */
import { str, type Command } from '../command.ts';
import { humanSize, humanTime, table } from '../format.ts';
import type { Json } from '../http.ts';
import { childrenOf, collectorList, collectorOf } from '../collectors.ts';

interface Found {
  type: string;
  instance: Json;
  key: 'databases' | 'filesystems';
  children: Json[];
}

const findingLines = (findings: unknown, prefix = ''): string[] =>
  (Array.isArray(findings) ? findings : []).map((f: Json) => `  ! ${prefix}${f?.code ?? 'FINDING'}: ${f?.message ?? ''}`);

function flags(o: Json): string {
  const out: string[] = [];
  if (o.missing) out.push('MISSING');
  if (o.properties?.readOnly) out.push('read-only');
  if (Array.isArray(o.findings) && o.findings.length) out.push(`${o.findings.length} finding(s)`);
  return out.join(', ');
}

function render(f: Found): string[] {
  const i = f.instance;
  const about = [
    i.version ? `version ${i.version}` : undefined,
    i.properties?.os ? String(i.properties.os) : undefined,
    `appserver ${i.appserverId}`,
    `last seen ${humanTime(i.lastSeen)}`,
  ].filter(Boolean).join(', ');
  const lines = [`${f.type}  ${i.name}  (${about})${i.missing ? '  MISSING' : ''}`, ...findingLines(i.findings)];
  if (!f.children.length) {
    lines.push(`  no ${f.key === 'filesystems' ? 'file systems' : 'databases'}`);
    return lines;
  }
  const body = f.key === 'filesystems'
    ? table(
        ['file system', { title: 'size', align: 'right' }, { title: 'used', align: 'right' }, 'type', 'device', 'last seen', 'flags'],
        f.children.map((d: Json) => [
          d.name, humanSize(d.sizeBytes),
          d.properties?.usedBytes === null || d.properties?.usedBytes === undefined ? '-' : `${humanSize(d.properties.usedBytes)}${d.properties.usePercent !== null && d.properties.usePercent !== undefined ? ` (${d.properties.usePercent}%)` : ''}`,
          d.properties?.type, d.properties?.device, humanTime(d.lastSeen), flags(d),
        ]),
      )
    : table(
        ['database', { title: 'size', align: 'right' }, 'owner', 'encoding', 'last seen', 'flags'],
        f.children.map((d: Json) => [d.name, humanSize(d.sizeBytes), d.owner, d.encoding, humanTime(d.lastSeen), flags(d)]),
      );
  lines.push(...body.split('\n').map((l) => `  ${l}`));
  for (const d of f.children) lines.push(...findingLines(d.findings, `${d.name}: `));
  return lines;
}

export const inventoryShow: Command = {
  words: ['inventory', 'show'],
  synopsis: '[--type TYPE]',
  summary: 'instances and their databases or file systems, with sizes, versions, missing flags and readiness findings',
  help: `  --type T      only this application type (default: all; census appserver types lists them)
  --json        a JSON array of the instances, each with its "databases" (or "filesystems") added`,
  options: { type: { type: 'string' } },
  async run(ctx) {
    const only = str(ctx, 'type')?.toLowerCase();
    const api = ctx.api();
    const known = await collectorList(api);
    const collectors = only !== undefined ? [collectorOf(known, only, ctx.usage)] : known;
    const found: Found[] = [];
    for (const collector of collectors) {
      const type: string = collector.type;
      const { key, segment } = childrenOf(collector);
      const instances = await api.list(`/api/application/${type}/instance`, 'instances');
      for (const instance of instances) {
        const children = await api.list(`/api/application/${type}/instance/${instance.id}/${segment}`, key);
        found.push({ type, instance, key, children });
      }
    }
    if (ctx.json) return ctx.printJson(found.map((f) => ({ ...f.instance, [f.key]: f.children })));
    if (!found.length) {
      return ctx.print(`No inventory${only ? ` of type ${only}` : ''} yet: register servers with census appserver add, then run census job run 1004 --wait.`);
    }
    const blocks = found.map((f) => render(f).join('\n'));
    ctx.print(blocks.join('\n\n'));
  },
};
