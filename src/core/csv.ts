/** A small RFC 4180 CSV reader: quoted fields, doubled quotes, CRLF or LF, a header row. */
import { invalid } from './errors.ts';

export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const src = text.replace(/^\uFEFF/, '');
  while (i < src.length) {
    const c = src[i]!;
    if (quoted) {
      if (c === '"' && src[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else field += c;
      i++;
      continue;
    }
    if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && src[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
    i++;
  }
  if (quoted) throw invalid('The CSV has an unterminated quoted field.');
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => r.some((f) => f.trim() !== ''));
}

/** Rows as objects keyed by the header row's names (trimmed); empty cells are left out. */
export function csvRecords(text: string): Record<string, string>[] {
  const [header, ...rows] = parseCsv(text);
  if (!header) throw invalid('The CSV is empty: the first row must name the columns.');
  const names = header.map((h) => h.trim());
  return rows.map((r, n) => {
    if (r.length > names.length) throw invalid(`CSV row ${n + 2} has ${r.length} fields but the header names ${names.length}.`);
    const rec: Record<string, string> = {};
    r.forEach((v, i) => {
      if (v.trim() !== '') rec[names[i]!] = v.trim();
    });
    return rec;
  });
}
