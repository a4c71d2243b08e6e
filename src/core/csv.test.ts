import { describe, expect, it } from 'vitest';
import { csvRecords, parseCsv } from './csv.ts';

describe('csv', () => {
  it('reads quoted fields with commas, doubled quotes and CRLF line ends', () => {
    expect(parseCsv('a,b\r\n"x, y","say ""hi"""\r\n')).toEqual([['a', 'b'], ['x, y', 'say "hi"']]);
  });
  it('keys rows by the header and leaves empty cells out', () => {
    expect(csvRecords('name,hostAddress,portNumber\ndb1,10.0.0.1,\n\n')).toEqual([{ name: 'db1', hostAddress: '10.0.0.1' }]);
  });
  it('refuses an unterminated quote and rows longer than the header', () => {
    expect(() => parseCsv('a\n"open')).toThrow(/unterminated/);
    expect(() => csvRecords('a\n1,2')).toThrow(/row 2 has 2 fields/);
  });
});
