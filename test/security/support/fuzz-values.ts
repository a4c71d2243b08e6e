/**
 * What the fuzzer sends: values of the wrong type for a schema, numbers JSON cannot hold exactly,
 * NUL and odd Unicode (also as raw bytes no UTF-8 encoder would write), injection strings for
 * filters, sorts, paging and ids, and JSON nested far deeper than any client would — built as
 * text, never as a JS object, so the fuzzer itself stays small.
 *
 * Bodies are built as `Json` trees that may hold `Raw` pieces (bytes written as they are), so one
 * body can carry a number token like `1e309` or the bytes of a lone surrogate inside a string.
 */
import fc from 'fast-check';
import type { Schema } from './operations.ts';

/** Bytes written into the JSON text as they are. */
export class Raw {
  constructor(readonly bytes: Buffer, readonly label: string) {}
}
export type Json = null | boolean | number | string | Raw | Json[] | { [key: string]: Json };

export function jsonBytes(v: Json): Buffer {
  const parts: Buffer[] = [];
  const walk = (x: Json) => {
    if (x instanceof Raw) parts.push(x.bytes);
    else if (Array.isArray(x)) {
      parts.push(Buffer.from('['));
      x.forEach((e, i) => {
        if (i) parts.push(Buffer.from(','));
        walk(e);
      });
      parts.push(Buffer.from(']'));
    } else if (x !== null && typeof x === 'object') {
      parts.push(Buffer.from('{'));
      Object.entries(x).forEach(([k, e], i) => {
        parts.push(Buffer.from(`${i ? ',' : ''}${JSON.stringify(k)}:`));
        walk(e);
      });
      parts.push(Buffer.from('}'));
    } else parts.push(Buffer.from(JSON.stringify(x) ?? 'null'));
  };
  walk(v);
  return Buffer.concat(parts);
}

/** A short, readable rendering of bytes for failure reports. */
export function preview(b: Buffer | string | undefined, max = 300): string {
  if (b === undefined) return '(none)';
  const s = typeof b === 'string' ? b : b.toString('latin1');
  const shown = s.length > max ? `${s.slice(0, max)}… (${s.length} bytes)` : s;
  return JSON.stringify(shown);
}

// ---- numbers -------------------------------------------------------------------------------

/** Number tokens as JSON text: past float range, past 2^53 and 2^63, negative zero, underflow, very long. */
export const NUMBER_TOKENS = [
  '1e309', '-1e309', '-0', '1e-400', '9223372036854775808', '9223372036854775807', '-9223372036854775809', '9007199254740993',
  '18446744073709551616', '1'.repeat(400), `0.${'0'.repeat(400)}1`, '1.7976931348623157e308', '4294967296', '2147483648', '-2147483649',
  '0.5', '1e2', '-1', '0',
];
export const numberToken = fc.constantFrom(...NUMBER_TOKENS).map((t) => new Raw(Buffer.from(t), t));

// ---- strings -------------------------------------------------------------------------------

export const SQL_INJECTION = [
  "' OR 1=1--", "' OR '1'='1", '"; DROP TABLE jobs; --', "1; DELETE FROM appservers", "') UNION SELECT name, passwordHash FROM users --",
  "1' AND SLEEP(5)--", "'; SELECT pg_sleep(5); --", '1 OR 1=1', "admin'--", '%', '_', '*', '\\', "''", '`id`', '"name"',
  'id; --', 'name) OR (1=1', 'lower(name)', '(SELECT 1)', 'id DESC, (SELECT 1)',
];
export const NOSQL_INJECTION = ['{"$gt":""}', '{"$ne":null}', '{"$where":"sleep(5000)"}', '[{"$gt":""}]', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"x":1}}}'];
export const OTHER_INJECTION = [
  '../../../../etc/passwd', '..%2f..%2fetc%2fpasswd', '${7*7}', '{{7*7}}', '<script>alert(1)</script>', '$(id)', '`id`', '|| id', 'null', 'undefined',
  'NaN', 'Infinity', '-Infinity', 'true', '[]', '{}', '""', ' ', '', '\t', 'constructor', '__proto__', 'prototype', 'hasOwnProperty', 'toString',
];
/** Strings with NUL and Unicode that breaks naive code: lone surrogates, BOM, RTL override, zero-width, non-characters, astral. */
export const ODD_UNICODE = [
  '\u0000', 'a\u0000b', '\ud800', '\udfff', 'x\ud800y', '\udc00\ud800', '\ufeff', '\ufeffname', '\u202egnp.exe', '\u200b', '\u2028\u2029',
  '\uffff', '\ufffe', '\u0085', '𝔘𝔫𝔦', '😀', 'é', 'ﬀ', 'İ', 'ß', '\r\n', '\x1b[31m', 'Ω'.repeat(300),
];
export const NUMERIC_STRINGS = ['1004', '1', '0', '-1', '-0', '+1', ' 1', '1 ', '01', '0x10', '1e3', '1.5', '1,5', '1_000', ...NUMBER_TOKENS.slice(0, 11)];

/** Every odd string there is, plus arbitrary ones. */
export const fuzzString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...SQL_INJECTION, ...NOSQL_INJECTION, ...OTHER_INJECTION) },
  { weight: 2, arbitrary: fc.constantFrom(...ODD_UNICODE) },
  { weight: 2, arbitrary: fc.constantFrom(...NUMERIC_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme-composite', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom(300, 2_000, 5_000).map((n) => 'x'.repeat(n)) },
);

/** Byte sequences no UTF-8 encoder writes: a lone surrogate (CESU), overlong `/` and NUL, stray continuation and lead bytes. */
export const BAD_UTF8: Raw[] = [
  new Raw(Buffer.from([0xed, 0xa0, 0x80]), 'lone surrogate D800 as bytes'),
  new Raw(Buffer.from([0xed, 0xbf, 0xbf]), 'lone surrogate DFFF as bytes'),
  new Raw(Buffer.from([0xc0, 0xaf]), 'overlong "/"'),
  new Raw(Buffer.from([0xe0, 0x80, 0xaf]), 'overlong "/" (3 bytes)'),
  new Raw(Buffer.from([0xc0, 0x80]), 'overlong NUL'),
  new Raw(Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]), '5-byte sequence'),
  new Raw(Buffer.from([0x80]), 'stray continuation byte'),
  new Raw(Buffer.from([0xff, 0xfe]), 'bytes that are never UTF-8'),
  new Raw(Buffer.from([0xe2, 0x82]), 'truncated sequence'),
  new Raw(Buffer.from([0x00]), 'raw NUL'),
];
/** A JSON string (quotes included) with raw bytes in it. */
export const rawString = fc.tuple(fc.constantFrom(...BAD_UTF8), fc.constantFrom('', 'a', '1004')).map(([bad, around]) =>
  new Raw(Buffer.concat([Buffer.from(`"${around}`), bad.bytes, Buffer.from(`${around}"`)]), `string with ${bad.label}`));
/** JSON text escapes for lone surrogates and NUL, written as escapes (JSON.stringify would write them the same way). */
export const escapedString = fc.constantFrom('"\\ud800"', '"\\udfff\\ud800"', '"a\\u0000b"', '"\\ufeff"', '"\\u202e"')
  .map((t) => new Raw(Buffer.from(t), t));

// ---- JSON values --------------------------------------------------------------------------

/** JSON values that trip code converting them: objects whose `toString`/`valueOf` String() and Number() would call. */
export const ODD_JSON: Json[] = [
  null, true, false, 0, -1, 1.5, 2 ** 63, Number.MAX_VALUE, [], {}, [[]], { '': null },
  { toString: 1 }, { valueOf: {}, toString: {} }, { toJSON: 1 }, [{ toString: 'x' }], JSON.parse('{"__proto__":{"polluted":1}}') as Json,
];

export const anyJson: fc.Arbitrary<Json> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> },
  { weight: 2, arbitrary: fuzzString },
  { weight: 1, arbitrary: numberToken },
  { weight: 1, arbitrary: rawString },
  { weight: 1, arbitrary: escapedString },
  { weight: 1, arbitrary: fc.constantFrom<Json>(...ODD_JSON) },
);

/** JSON without raw pieces, for places that are JSON text in a URL (raw bytes there come from `ENCODED_FILTERS`). */
export const plainJson: fc.Arbitrary<Json> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> },
  { weight: 2, arbitrary: fuzzString },
  { weight: 1, arbitrary: fc.constantFrom<Json>(...ODD_JSON) },
);

const types = (s: Schema): string[] => {
  const t = s.type;
  const own = Array.isArray(t) ? (t as string[]) : typeof t === 'string' ? [t] : [];
  return [...own, ...((s.anyOf ?? s.oneOf ?? []) as Schema[]).flatMap(types)];
};

/**
 * A value the schema admits, loosely: right type, sometimes right shape. `hints` are strings that
 * get a body past its first checks (a real identity's href, say), so handlers are reached too.
 */
function fitting(s: Schema, depth: number, hints: readonly string[]): fc.Arbitrary<Json> {
  if (Array.isArray(s.enum) && s.enum.length) return fc.constantFrom(...(s.enum as Json[]));
  const t = types(s);
  const options: fc.Arbitrary<Json>[] = [];
  if (t.includes('string')) options.push(fc.oneof({ weight: 3, arbitrary: fc.constantFrom('1004', 'postgresql', '127.0.0.1', 'true', '12:30', 'UTC', ...hints) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }));
  if (t.includes('integer') || t.includes('number')) options.push(fc.oneof(fc.integer({ min: -2, max: 70_000 }), fc.constantFrom(1004, 1, 0)));
  if (t.includes('boolean')) options.push(fc.boolean());
  if (t.includes('null')) options.push(fc.constant(null));
  if (t.includes('array') && depth < 3) {
    const items = (s.items as Schema | undefined) ?? {};
    options.push(fc.array(valueFor(items, depth + 1, hints), { maxLength: 3 }));
  }
  if ((t.includes('object') || s.properties) && depth < 3) options.push(objectFor(s, depth + 1, hints));
  return options.length ? fc.oneof(...options) : anyJson;
}

/** A value for a schema: mostly one it admits, often one of the wrong type or an odd one. */
export function valueFor(s: Schema, depth = 0, hints: readonly string[] = []): fc.Arbitrary<Json> {
  return fc.oneof({ weight: 3, arbitrary: fitting(s, depth, hints) }, { weight: 2, arbitrary: anyJson });
}

/** An object with some of the schema's properties (each fitting or wrong), and sometimes extra keys. */
export function objectFor(s: Schema, depth = 0, hints: readonly string[] = []): fc.Arbitrary<Json> {
  const props = Object.entries((s.properties ?? {}) as Record<string, Schema>);
  const required = ((s.required ?? []) as string[]).filter((k) => props.some(([p]) => p === k));
  const own = props.length
    ? fc.oneof(
      // Any of its fields, each fitting or not.
      fc.record(Object.fromEntries(props.map(([k, v]) => [k, valueFor(v, depth, hints)])), { requiredKeys: [] }),
      // Its required fields and some others, all fitting but one: how a handler's own checks are reached.
      fc.tuple(fc.record(Object.fromEntries(props.map(([k, v]) => [k, fitting(v, depth, hints)])), { requiredKeys: required }), fc.constantFrom(...props.map(([k]) => k)), anyJson)
        .map(([o, k, wrong]) => ({ ...o, [k]: wrong }) as Json),
    )
    : fc.constant({});
  const extra = fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'toString', '')), anyJson, { maxKeys: 2 });
  return fc.tuple(own, fc.option(extra, { nil: undefined })).map(([o, x]) => ({ ...(x ?? {}), ...(o as Record<string, Json>) }));
}

// ---- deep nesting ---------------------------------------------------------------------------

export type Nesting = 'array' | 'object' | 'mixed';

/** `n` levels of arrays (`[[[…]]]`), objects (`{"a":{"a":…}}`) or both, as JSON text. */
export function nested(n: number, kind: Nesting, inner = '1'): Buffer {
  const open = kind === 'array' ? '[' : kind === 'object' ? '{"a":' : '{"a":[';
  const close = kind === 'array' ? ']' : kind === 'object' ? '}' : ']}';
  const levels = kind === 'mixed' ? Math.ceil(n / 2) : n;
  return Buffer.from(open.repeat(levels) + inner + close.repeat(levels));
}

export const NESTING_DEPTHS = [100, 1_000, 10_000, 100_000];

// ---- encoding into URLs ---------------------------------------------------------------------

/**
 * Percent-encodes every code unit that is not unreserved, UTF-8 for well-formed text and the
 * three bytes of the surrogate itself for a lone one (which `encodeURIComponent` refuses to do).
 */
export function pctEncode(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (/[A-Za-z0-9\-._~]/.test(s[i]!)) out += s[i];
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff) {
      out += encodeURIComponent(s.slice(i, i + 2));
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      out += [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    } else out += encodeURIComponent(s[i]!);
  }
  return out;
}

/** Path segments as they might arrive: encoded odd strings, and raw escapes that decode to nothing valid. */
export const pathSegment: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fuzzString.map(pctEncode) },
  { weight: 2, arbitrary: fc.constantFrom('1004', '1', '0', '1000', '2147483647', '2147483648', '9007199254740993', '99999999999999999999', 'abc') },
  { weight: 2, arbitrary: fc.constantFrom('%C0%AF', '%ED%A0%80', '%FF', '%', '%zz', '%00', '%E2%80%AE', '%EF%BB%BF', '1%00', '%25', '%2e', '%u0041', '+', '%20') },
  // Bytes above 0x7F straight on the request line (Node writes the path as latin1).
  { weight: 1, arbitrary: fc.constantFrom('\xc0\xaf', '\xed\xa0\x80', '\xff', 'caf\xe9') },
);

/** A query value already encoded, sent as it is (to carry escapes of bytes that are not UTF-8). */
export class Encoded {
  constructor(readonly text: string) {}
}
export type QueryValue = string | Encoded;

/** The query string of `[name, value]` pairs (a name may repeat), values encoded. */
export const queryString = (pairs: [string, QueryValue][]): string =>
  pairs.length ? `?${pairs.map(([k, v]) => `${pctEncode(k)}=${v instanceof Encoded ? v.text : pctEncode(v)}`).join('&')}` : '';

/** Filters whose JSON holds escapes of a lone surrogate, an overlong `/`, NUL, a bare `%`, or a `+` (a space in forms). */
export const ENCODED_FILTERS = ['%ED%A0%80', '%C0%AF', '%00', '%FF', '%', '%E2%80%AE', '+'].map((bad) =>
  new Encoded(`%5B%7B%22property%22%3A%22name%22%2C%22value%22%3A%22${bad}%22%7D%5D`));

// ---- collection parameters ------------------------------------------------------------------

// Mostly operators and properties the API knows (so the value reaches the query), sometimes odd ones.
const filterOp = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('=', '<>', '<', '>', '<=', '>=', 'IN', 'NOT IN', 'EXISTS', 'NOT EXISTS', 'in', ' not  in ', '==', '!=') },
  { weight: 2, arbitrary: fc.constantFrom('LIKE', 'OR', '; DROP TABLE jobs', '= 1 OR 1=1', '$gt', 'BETWEEN', '', ' ') },
  { weight: 1, arbitrary: plainJson },
);
const filterProperty = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('name', 'id', 'status', 'jobId', 'jobsessionId', 'appserverId', 'hostAddress', 'start', 'logTime', 'type', 'missing', 'size',
    'rangeunit', 'range', 'messageId', 'portNumber', 'percent', 'numTasks', 'objectType', 'change', 'recordedAt', 'sizeBytes', 'username', 'lastRunTime') },
  { weight: 2, arbitrary: fc.constantFrom('__proto__', 'constructor', 'name; DROP TABLE jobs', 'id) OR (1=1', 'password', 'passwordHash', 'secret', '') },
  { weight: 1, arbitrary: plainJson },
);
/** Values a filter compares with: odd strings and numbers mostly, any JSON sometimes. */
const filterOperand = fc.oneof(
  { weight: 3, arbitrary: fuzzString as fc.Arbitrary<Json> },
  { weight: 2, arbitrary: fc.constantFrom<Json>(1e308, -1e308, 2 ** 63, -(2 ** 63), 1.5, -0, 0, 2147483648, 9007199254740993, null, true, '*', 'x*', '%', '_', '\\') },
  // Wildcards that make a backtracking matcher take exponential time.
  { weight: 1, arbitrary: fc.constantFrom<Json>(`${'*'.repeat(12)}!`, `${'*a'.repeat(16)}!`, `${'_*'.repeat(16)}!`, `${'*'.repeat(2_000)}x`) },
  { weight: 2, arbitrary: plainJson },
);
const filterItem: fc.Arbitrary<Json> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ property: filterProperty, value: filterOperand, op: filterOp }, { requiredKeys: ['property'] }) as fc.Arbitrary<Json> },
  { weight: 1, arbitrary: plainJson },
);
/** Values of `filter`: SPP's shape with odd properties, operators and values, and junk. */
export const filterValue: fc.Arbitrary<QueryValue> = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(...ENCODED_FILTERS) },
  { weight: 4, arbitrary: fc.array(filterItem, { maxLength: 3 }).map((a) => JSON.stringify(a)) },
  { weight: 1, arbitrary: filterItem.map((a) => JSON.stringify(a) ?? 'null') },
  { weight: 1, arbitrary: fc.constantFrom(...NOSQL_INJECTION, '[{"property":"name","value":{"$gt":""}}]', '[{"property":"status","value":"live","op":"NOT IN"}]',
    '[{"property":"rangeunit","value":"day"},{"property":"range","value":"1e309"}]', '[{"property":"rangeunit","value":"hour"},{"property":"range","value":9e300}]',
    '[{"property":"rangeunit","value":"week"},{"property":"range","value":-1e300}]', '[{"property":"rangeunit","value":"__proto__"},{"property":"range","value":1}]',
    '[{"property":"rangeunit","value":"constructors"},{"property":"range","value":1}]', '[{"property":"status","value":["constructor","__proto__"]}]',
    '[{"property":"status","value":"__proto__","op":"<>"}]') },
  { weight: 2, arbitrary: fuzzString },
  { weight: 1, arbitrary: fc.constantFrom(5, 2_000).map((n) => '['.repeat(n) + ']'.repeat(n)) },
);
export const sortValue: fc.Arbitrary<QueryValue> = fc.oneof(
  { weight: 3, arbitrary: fc.array(fc.record({ property: filterProperty, direction: fc.oneof(fc.constantFrom('ASC', 'desc', 'DESC; DROP TABLE jobs', ''), plainJson) }, { requiredKeys: [] }), { maxLength: 3 }).map((a) => JSON.stringify(a)) },
  { weight: 2, arbitrary: fuzzString },
);
export const pagingValue: fc.Arbitrary<QueryValue> = fc.oneof(
  fc.constantFrom(...NUMERIC_STRINGS, '100000', '100001', '2147483648'), fuzzString, fc.constantFrom('%', '%FF', '1%00', '%ED%A0%80').map((t) => new Encoded(t)));

// ---- CSV ------------------------------------------------------------------------------------

const csvCell = (v: string) => (/[",\r\n]/.test(v) || v.startsWith(' ') ? `"${v.replace(/"/g, '""')}"` : v);

/**
 * CSV with a header row: known and odd column names, cells fitting or fuzzed, quoting, CRLF or
 * LF, a BOM, an unterminated quote, rows longer than the header. `hostAddress` cells are always
 * loopback (or empty): a registration may be inventoried.
 */
export function csvBody(hints: readonly string[] = []): fc.Arbitrary<Buffer> {
  const column = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('name', 'hostAddress', 'portNumber', 'applicationType', 'username', 'password', 'privatekey', 'osType', 'comment', 'addToCatJob', 'tls') },
    { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', '', ' name ', 'HOSTADDRESS', '\ufeffname') },
    { weight: 1, arbitrary: fuzzString },
  );
  const cell = fc.oneof({ weight: 3, arbitrary: fc.constantFrom('127.0.0.1', 'postgresql', 'mysql', 'file', '5432', '0', '70000', 'fuzz', 'secret', '', ...hints) }, { weight: 1, arbitrary: fuzzString });
  const table = fc.uniqueArray(column, { minLength: 1, maxLength: 6 }).chain((header) => fc.record({
    header: fc.constant(header),
    // Rows as wide as the header mostly; one cell more sometimes.
    rows: fc.array(fc.array(cell, { minLength: header.length, maxLength: header.length }).chain((r) => fc.oneof(
      { weight: 15, arbitrary: fc.constant(r) }, { weight: 1, arbitrary: cell.map((x) => [...r, x]) })), { minLength: 1, maxLength: 4 }),
  }));
  return fc.record({
    table,
    newline: fc.constantFrom('\n', '\r\n', '\r'),
    bom: fc.boolean(),
    tail: fc.constantFrom('', '', '', '', '\n', '\r\n', '"unterminated', ',,,,'),
  }).map(({ table: { header, rows }, newline, bom, tail }) => {
    const host = header.findIndex((h) => h.trim() === 'hostAddress');
    const lines = [header.map(csvCell).join(','), ...rows.map((r) => r.map((v, i) => csvCell(i === host && v !== '' ? '127.0.0.1' : v)).join(','))];
    return Buffer.from(`${bom ? '\ufeff' : ''}${lines.join(newline)}${tail}`);
  });
}
