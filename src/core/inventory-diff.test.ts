import { describe, expect, it } from 'vitest';
import { describeChanges, diffObjects, sizeChanged, type Snapshot } from './inventory-diff.ts';

const MB = 1024 * 1024;
const snap = (name: string, over: Partial<Snapshot> = {}): Snapshot => ({ name, missing: false, sizeBytes: 100 * MB, owner: 'o', encoding: 'UTF8', properties: {}, ...over });

describe('inventory diff', () => {
  it('reports appeared, disappeared, reappeared and changed objects', () => {
    const before = [snap('a'), snap('b'), snap('c', { missing: true }), snap('d')];
    const after = [snap('a', { sizeBytes: 200 * MB }), snap('c'), snap('d', { owner: 'p' }), snap('e')];
    const changes = diffObjects('database', 'h:5432', before, after);
    const by = (kind: string) => changes.filter((c) => c.change === kind).map((c) => c.objectName);
    expect(by('appeared')).toEqual(['e']);
    expect(by('disappeared')).toEqual(['b']);
    expect(by('reappeared')).toEqual(['c']);
    expect(changes.filter((c) => c.change === 'changed')).toEqual([
      expect.objectContaining({ objectName: 'a', field: 'sizeBytes', oldValue: String(100 * MB), newValue: String(200 * MB) }),
      expect.objectContaining({ objectName: 'd', field: 'owner', oldValue: 'o', newValue: 'p' }),
    ]);
  });

  it('does not report an object already missing as disappearing again', () => {
    expect(diffObjects('database', null, [snap('x', { missing: true })], [])).toEqual([]);
  });

  it('counts size changes only past both the ratio and the byte threshold', () => {
    const t = { ratio: 0.1, bytes: 10 * MB };
    expect(sizeChanged(100 * MB, 105 * MB, t)).toBe(false); // 5 %
    expect(sizeChanged(100 * MB, 120 * MB, t)).toBe(true);
    expect(sizeChanged(1 * MB, 5 * MB, t)).toBe(false); // 400 % but only 4 MiB
    expect(sizeChanged(null, 5 * MB, t)).toBe(false);
  });

  it('watches settings in properties and ignores counters', () => {
    const changes = diffObjects('instance', null,
      [snap('i', { version: '15.1', properties: { archiveMode: 'off', rolesCount: 3 } })],
      [snap('i', { version: '15.2', properties: { archiveMode: 'on', rolesCount: 9 } })]);
    expect(changes.map((c) => c.field)).toEqual(['version', 'archiveMode']);
  });

  it('says the changes in words', () => {
    const text = describeChanges(diffObjects('database', null, [snap('a'), snap('b')], [snap('a', { sizeBytes: 300 * MB }), snap('c')]));
    expect(text).toBe('1 database appeared (c); 1 database disappeared (b); 1 change (a: size 100.0 MiB → 300.0 MiB)');
    expect(describeChanges([])).toBe('no changes since the last inventory');
  });
});
