/**
 * The one-way rule of ../shared/design/DESIGN.md ("Layers"), checked on every import:
 *
 *   core ← store, collectors ← engine ← services ← api, cli ← main
 *
 * A lower layer never imports a higher one, and no two top-level folders import each other. The
 * table below is that rule; docs/architecture.md ("Layers") says why each entry is what it is.
 * Type-only imports count too: they are a dependency on the other layer's design all the same.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findImports, tokenize } from './support/imports.ts';

type Layer = 'core' | 'store' | 'collectors' | 'directory' | 'engine' | 'services' | 'api' | 'cli' | 'cli/client' | 'main' | 'entry';

/** What each layer may import besides itself. */
const MAY_IMPORT: Record<Layer, readonly Layer[]> = {
  core: [],
  store: ['core'],
  collectors: ['core'],
  // The LDAP client for directory logins: an adapter like a collector, used by the services.
  directory: ['core'],
  // Collectors are the concrete adapters: the engine runs them, main.ts picks them; nobody else
  // (the API learns what they are from core's CollectorInfo, handed over by main.ts).
  engine: ['core', 'store', 'collectors'],
  // The use cases: each takes the caller, checks the rules, and drives the store and the engine.
  services: ['core', 'store', 'engine', 'directory'],
  // Routes parse, call a service, write the wire: nothing of the store or the engine.
  api: ['core', 'services'],
  // backup and restore work on the store directly.
  cli: ['core', 'store', 'engine', 'cli/client'],
  // The client talks to a server over HTTP and loads nothing of it but core's pure helpers.
  'cli/client': ['core'],
  // src/*.ts: the composition root (main.ts) and the processes that run it (serve.ts).
  main: ['core', 'store', 'collectors', 'directory', 'engine', 'services', 'api', 'cli'],
  // src/cli/main.ts is the program (bin/census.js loads it): it dispatches to the server
  // processes and to the client, so it sits above everything, and nothing imports it.
  entry: ['core', 'store', 'collectors', 'directory', 'engine', 'services', 'api', 'cli', 'cli/client', 'main'],
};

const FOLDERS = new Set(['core', 'store', 'collectors', 'directory', 'engine', 'services', 'api', 'cli']);

function layerOf(file: string): Layer | undefined {
  if (file === 'src/cli/main.ts') return 'entry';
  const parts = file.split('/');
  if (parts[0] !== 'src') return undefined;
  if (parts.length === 2) return 'main';
  if (parts[1] === 'cli' && parts[2] === 'client') return 'cli/client';
  return FOLDERS.has(parts[1]!) ? (parts[1] as Layer) : undefined;
}

// I/O a pure core must not reach for (DESIGN.md: "pure domain … No I/O"), and the server's
// packages that the HTTP client must not load.
const IO_MODULES = /^(node:)?(fs|fs\/promises|net|http|https|http2|tls|dgram|dns|child_process|cluster|worker_threads|readline)$/;
const SERVER_PACKAGES = /^(fastify|@fastify\/.*|kysely|pg|pg-boss|better-sqlite3|mysql2|ssh2|selfsigned|croner|prom-client)$/;

/** The collector folder a file is in (src/collectors/<type>/…), if any. */
const collectorFolder = (file: string) => /^src\/collectors\/([^/]+)\//.exec(file)?.[1];

/**
 * Every import against the rules, one line each: `src/a/b.ts → src/c/d.ts (why)`. `files` maps
 * repository-relative paths (src/…, web/src/…) to their text.
 */
function layerViolations(files: ReadonlyMap<string, string>): string[] {
  const found: string[] = [];
  const edges = new Map<Layer, Map<Layer, string>>(); // layer → layer → an example import
  for (const [file, text] of files) {
    const from = layerOf(file);
    const inWeb = file.startsWith('web/');
    if (!from && !inWeb) {
      found.push(`${file} is in no layer: add its folder to DESIGN.md's "Layers" and to this check`);
      continue;
    }
    for (const ref of findImports(text)) {
      if (ref.specifier === null) {
        found.push(`${file}:${ref.line} → import() of a computed name (the layer check cannot follow it; import a literal path)`);
        continue;
      }
      const spec = ref.specifier;
      if (!spec.startsWith('.')) {
        if (from === 'core' && IO_MODULES.test(spec)) found.push(`${file} → ${spec} (core does no I/O)`);
        if (from === 'cli/client' && SERVER_PACKAGES.test(spec)) found.push(`${file} → ${spec} (the CLI client loads nothing of the server)`);
        continue;
      }
      const target = posix.normalize(posix.join(posix.dirname(file), spec));
      if (inWeb) {
        // The UI talks to the server over HTTP only; a type-only import is erased by the build.
        if (!target.startsWith('web/') && !ref.typeOnly) found.push(`${file} → ${target} (web may import from outside web/ only with \`import type\`)`);
        continue;
      }
      const to = layerOf(target);
      if (!to) {
        found.push(`${file} → ${target} (src may not import outside its layers)`);
        continue;
      }
      if (to === from) {
        const [a, b] = [collectorFolder(file), collectorFolder(target)];
        if (a && b && a !== b) found.push(`${file} → ${target} (collectors/${a} may not import collectors/${b}: share through collectors/*.ts)`);
        continue;
      }
      if (!MAY_IMPORT[from!].includes(to)) found.push(`${file} → ${target} (${from} may not import ${to})`);
      if (!edges.has(from!)) edges.set(from!, new Map());
      if (!edges.get(from!)!.has(to)) edges.get(from!)!.set(to, `${file} → ${target}`);
    }
  }
  return [...found, ...cycles(edges)];
}

/** Cycles between layers, each named by the imports that close it. */
function cycles(edges: Map<Layer, Map<Layer, string>>): string[] {
  const found = new Map<string, string>();
  const walk = (path: Layer[]) => {
    const last = path[path.length - 1]!;
    for (const next of edges.get(last)?.keys() ?? []) {
      const at = path.indexOf(next);
      if (at >= 0) {
        const loop = path.slice(at);
        // The same cycle found from another start is reported once.
        const key = [...loop].sort().join(',');
        const via = loop.map((l, n) => edges.get(l)!.get(loop[(n + 1) % loop.length]!)!);
        if (!found.has(key)) found.set(key, `import cycle ${[...loop, next].join(' → ')}: ${via.join(', ')}`);
      } else walk([...path, next]);
    }
  };
  for (const start of edges.keys()) walk([start]);
  return [...found.values()];
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function sources(dir: string, exts: RegExp): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(posix.join(ROOT, dir), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !exts.test(entry.name) || /\.test\.tsx?$/.test(entry.name)) continue;
    const rel = posix.relative(ROOT, posix.join(entry.parentPath, entry.name));
    files.set(rel, readFileSync(posix.join(ROOT, rel), 'utf8'));
  }
  return files;
}

describe('layers (DESIGN.md: core ← store, collectors ← engine ← services ← api, cli ← main)', () => {
  it('no import in src/ or web/src/ goes against them', () => {
    const files = new Map([...sources('src', /\.ts$/), ...sources('web/src', /\.tsx?$/)]);
    // Not vacuous: the scan sees the composition root's imports.
    expect(findImports(files.get('src/main.ts')!).map((r) => r.specifier)).toContain('./api/server.ts');
    const violations = layerViolations(files);
    expect(violations, `imports against the layers:\n${violations.join('\n')}`).toEqual([]);
  });

  const check = (files: Record<string, string>) => layerViolations(new Map(Object.entries(files)));

  it('fails an import upward, whatever its form: static, dynamic, re-export, type-only', () => {
    expect(check({
      'src/api/bad.ts': "import { TLS_MODES } from '../collectors/types.ts';",
      'src/api/store.ts': "import type { Store } from '../store/index.ts';\nimport { Engine } from '../engine/engine.ts';",
      'src/store/bad.ts': "export async function f() { return (await import('../engine/engine.ts')).Engine; }",
      'src/core/bad.ts': "export { Store } from '../store/index.ts';",
      'src/engine/bad.ts': "import type { Census } from '../main.ts';",
      'src/cli/client/bad.ts': "import { Store } from '../../store/index.ts';\nimport pg from 'pg';",
      'src/core/io.ts': "import { readFileSync } from 'node:fs';",
    })).toEqual([
      'src/api/bad.ts → src/collectors/types.ts (api may not import collectors)',
      'src/api/store.ts → src/store/index.ts (api may not import store)',
      'src/api/store.ts → src/engine/engine.ts (api may not import engine)',
      'src/store/bad.ts → src/engine/engine.ts (store may not import engine)',
      'src/core/bad.ts → src/store/index.ts (core may not import store)',
      'src/engine/bad.ts → src/main.ts (engine may not import main)',
      'src/cli/client/bad.ts → src/store/index.ts (cli/client may not import store)',
      'src/cli/client/bad.ts → pg (the CLI client loads nothing of the server)',
      'src/core/io.ts → node:fs (core does no I/O)',
    ]);
  });

  it('fails a cycle between folders, and sideways imports between siblings and between collectors', () => {
    expect(check({
      'src/cli/serve.ts': "import { startCensus } from '../main.ts';",
      'src/main.ts': "const tls = await import('./cli/tls.ts');",
      'src/store/x.ts': "import { mysqlCollector } from '../collectors/mysql/index.ts';",
      'src/collectors/redis/index.ts': "import { driverSsl } from '../types.ts';\nimport { mysqlErrors } from '../mysql/errors.ts';",
    })).toEqual([
      'src/cli/serve.ts → src/main.ts (cli may not import main)',
      'src/store/x.ts → src/collectors/mysql/index.ts (store may not import collectors)',
      'src/collectors/redis/index.ts → src/collectors/mysql/errors.ts (collectors/redis may not import collectors/mysql: share through collectors/*.ts)',
      'import cycle cli → main → cli: src/cli/serve.ts → src/main.ts, src/main.ts → src/cli/tls.ts',
    ]);
  });

  it('allows what the rule allows', () => {
    expect(check({
      'src/api/ok.ts': "import type { Services } from '../services/index.ts';\nimport { invalid } from '../core/errors.ts';",
      'src/services/ok.ts': "import { Engine } from '../engine/engine.ts';\nimport type { Store } from '../store/index.ts';",
      'src/cli/main.ts': "const serve = await import('../serve.ts');",
      'src/collectors/redis/index.ts': "import { withPort } from '../types.ts';\nimport { parse } from './resp.ts';",
      'web/src/api/types.ts': "export type { AppServer } from '../../../src/api/wire.ts';\nimport { get } from './http';",
    })).toEqual([]);
  });

  it('keeps the directory client beside the collectors: core only, used by the services', () => {
    expect(check({
      'src/directory/ok.ts': "import { invalid } from '../core/errors.ts';",
      'src/services/login.ts': "import { authenticate } from '../directory/ldap.ts';",
      'src/directory/bad.ts': "import type { Store } from '../store/index.ts';",
      'src/api/bad.ts': "import { authenticate } from '../directory/ldap.ts';",
    })).toEqual([
      'src/directory/bad.ts → src/store/index.ts (directory may not import store)',
      'src/api/bad.ts → src/directory/ldap.ts (api may not import directory)',
    ]);
  });

  it('fails a value import into web/ from the server, and a computed dynamic import', () => {
    expect(check({
      'web/src/x.ts': "import { TLS_MODES } from '../../src/core/tls-mode.ts';",
      'src/engine/x.ts': 'const m = await import(`../collectors/${type}/index.ts`);',
    })).toEqual([
      'web/src/x.ts → src/core/tls-mode.ts (web may import from outside web/ only with `import type`)',
      'src/engine/x.ts:1 → import() of a computed name (the layer check cannot follow it; import a literal path)',
    ]);
  });

  it('reads imports, not text that mentions them', () => {
    const text = [
      "// import { x } from '../api/a.ts';",
      "/* await import('../api/b.ts') */",
      "const s = \"import { y } from '../api/c.ts'\";",
      "const t = `import('../api/d.ts') ${s.replace(/['\"]/g, '')} from '../api/e.ts'`;",
      "const half = 1 / 2; const r = /import\\('x'\\)/;",
      "import {",
      '  a,',
      '  type B,',
      "} from '../core/f.ts';",
      "import type from '../core/g.ts';",
      "import type { H } from '../core/h.ts';",
      "export type { I } from '../core/i.ts';",
      "export * from '../core/j.ts';",
      "import '../core/k.ts';",
      "const m = import.meta.url; const n = await import('../core/l.ts');",
      'export type Z = typeof import("../core/m.ts");',
      'export const done = true;',
    ].join('\n');
    expect(findImports(text)).toEqual([
      { specifier: '../core/f.ts', line: 6, typeOnly: false },
      { specifier: '../core/g.ts', line: 10, typeOnly: false },
      { specifier: '../core/h.ts', line: 11, typeOnly: true },
      { specifier: '../core/i.ts', line: 12, typeOnly: true },
      { specifier: '../core/j.ts', line: 13, typeOnly: false },
      { specifier: '../core/k.ts', line: 14, typeOnly: false },
      { specifier: '../core/l.ts', line: 15, typeOnly: false },
      { specifier: '../core/m.ts', line: 16, typeOnly: false },
    ]);
    // The lexer ends where the text ends, with every token accounted for.
    expect(tokenize(text).at(-1)).toMatchObject({ kind: 'punct', text: ';', line: 17 });
  });
});
