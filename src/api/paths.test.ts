import { describe, expect, it } from 'vitest';
import { jsonDepthExceeds } from './json-depth.ts';
import { canonicalPath, spellsNgp } from './paths.ts';

const ok = (url: string) => {
  const r = canonicalPath(url);
  if (!r.ok) throw new Error(`${url}: ${r.reason}`);
  return r.url;
};
const refused = (url: string) => !canonicalPath(url).ok;

describe('canonicalPath', () => {
  it('decodes unreserved characters and nothing else', () => {
    expect(ok('/%61pi/endeavour/job')).toBe('/api/endeavour/job');
    expect(ok('/%61%70%69/%65ndeavour')).toBe('/api/endeavour');
    expect(ok('/%6egp/version')).toBe('/ngp/version');
    expect(ok('/a/%7e%2D%2e%5F')).toBe('/a/~-._');
    expect(ok('/a/%3f%20%c3%a9')).toBe('/a/%3F%20%C3%A9');
    expect(ok('/a/%2561')).toBe('/a/%2561'); // double encoding stays encoded once
  });

  it('collapses slashes and drops a trailing one, as SPP clients need', () => {
    expect(ok('//api//endeavour/job/')).toBe('/api/endeavour/job');
    expect(ok('/')).toBe('/');
    expect(ok('//')).toBe('/');
  });

  it('leaves the query string alone', () => {
    expect(ok('/api/x/?filter=%5B%7B%7D%5D&a=/../b')).toBe('/api/x?filter=%5B%7B%7D%5D&a=/../b');
  });

  it('refuses what could make one path mean another', () => {
    for (const url of ['/api/./x', '/api/../x', '/api/%2e%2E/x', '/api/%2E', '/api%2Fx', '/api%2fx', '/api%5Cx', '/api\\x',
      '/api;x=1/job', '/api/%zz', '/api/%4', '/api/%00', '/api/\u0001', '/api/ x', 'https://h/api', '*']) {
      expect(refused(url), url).toBe(true);
    }
  });
});

describe('jsonDepthExceeds', () => {
  it('counts arrays and objects, not brackets inside strings', () => {
    expect(jsonDepthExceeds('[[[1]]]', 3)).toBe(false);
    expect(jsonDepthExceeds('[[[[1]]]]', 3)).toBe(true);
    expect(jsonDepthExceeds('{"a":{"b":{"c":{}}}}', 3)).toBe(true);
    expect(jsonDepthExceeds(`{"a":"${'['.repeat(100)}"}`, 3)).toBe(false);
    expect(jsonDepthExceeds(`{"a":"\\"${'['.repeat(100)}"}`, 3)).toBe(false);
    expect(jsonDepthExceeds('[[],[],[],[]]', 2)).toBe(false);
  });
});

describe('spellsNgp', () => {
  it('recognises the NodeJS layer however its first segment is spelled', () => {
    for (const url of ['/ngp/appserver', '//ngp', '/%6egp/x', '/%6E%67%70/x', '/ngp%2Fx', '\\ngp\\x', '/ngp;x/y']) expect(spellsNgp(url), url).toBe(true);
    for (const url of ['/api/ngp', '/ngpx/y', '/ng/p', '']) expect(spellsNgp(url), url).toBe(false);
  });
});
