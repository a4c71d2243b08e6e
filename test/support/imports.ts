/**
 * The module specifiers a TypeScript file imports, for the layer check (test/architecture.test.ts).
 * A small lexer rather than regular expressions over the text, so that a comment, a string or a
 * regular expression that merely mentions `import` is not taken for one. It knows just enough of
 * JavaScript's lexical grammar to tell code from everything else; it is not a parser.
 */

export interface ImportRef {
  /** What the file asked for; null for a dynamic import of a computed name (which no check can follow). */
  specifier: string | null;
  line: number;
  /** `import type … from` / `export type … from`: erased when compiled, so nothing is loaded at run time. */
  typeOnly: boolean;
}

interface Token {
  kind: 'name' | 'punct' | 'string' | 'template' | 'other';
  text: string;
  line: number;
}

// After these a `/` starts a regular expression; after anything else it divides.
const BEFORE_REGEX = new Set(['(', ',', '=', ':', '[', '!', '&', '|', '?', '{', '}', ';', '+', '-', '*', '%', '<', '>', '~', '^']);
const KEYWORDS_BEFORE_REGEX = new Set(['return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'new', 'delete', 'void', 'throw', 'instanceof', 'yield', 'await']);

// Names and numbers (a number's `.5` or `1.5e3` included), matched where the lexer stands.
const WORD = /[A-Za-z_$][\w$]*|[0-9][\w.]*/y;

function regexMayStart(prev: Token | undefined): boolean {
  if (!prev) return true;
  if (prev.kind === 'punct') return BEFORE_REGEX.has(prev.text);
  return prev.kind === 'name' && KEYWORDS_BEFORE_REGEX.has(prev.text);
}

export function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  // One entry per `${` we are inside: how many `{` are open within it.
  const substitutions: number[] = [];
  let i = 0;
  let line = 1;

  // From just after a backquote or a substitution's `}` to the closing backquote or the next `${`.
  // Returns whether it stopped at `${`.
  const templateChars = (): { text: string; open: boolean } => {
    let text = '';
    while (i < src.length) {
      const c = src[i]!;
      if (c === '\\') { text += src.slice(i, i + 2); i += 2; continue; }
      if (c === '`') { i++; return { text, open: false }; }
      if (c === '$' && src[i + 1] === '{') { i += 2; substitutions.push(0); return { text, open: true }; }
      if (c === '\n') line++;
      text += c;
      i++;
    }
    return { text, open: false };
  };

  while (i < src.length) {
    const c = src[i]!;
    const next = src[i + 1];
    if (c === '\n') { line++; i++; continue; }
    if (c === ' ' || c === '\t' || c === '\r') { i++; continue; }
    WORD.lastIndex = i;
    const word = WORD.exec(src)?.[0];
    if (word) {
      // A name, or a number (which only needs to be told apart from a division's operand).
      tokens.push({ kind: c >= '0' && c <= '9' ? 'other' : 'name', text: word, line });
      i += word.length;
      continue;
    }
    if (c === '/' && next === '/') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && next === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      for (let j = i; j < stop; j++) if (src[j] === '\n') line++;
      i = stop;
      continue;
    }
    if (c === "'" || c === '"') {
      // A quote string cannot span lines: stopping at the line's end also keeps a stray quote
      // (an apostrophe in JSX text) from swallowing more than its own line.
      let text = '';
      let j = i + 1;
      while (j < src.length && src[j] !== c && src[j] !== '\n') {
        if (src[j] === '\\') { text += src[j + 1] ?? ''; j += 2; continue; }
        text += src[j];
        j++;
      }
      tokens.push({ kind: 'string', text, line });
      i = src[j] === c ? j + 1 : j;
      continue;
    }
    if (c === '`') {
      const start = line;
      i++;
      const part = templateChars();
      // Only a template without substitutions has a value known before run time.
      tokens.push(part.open ? { kind: 'other', text: '`…${`', line: start } : { kind: 'template', text: part.text, line: start });
      continue;
    }
    if (c === '}' && substitutions.length > 0 && substitutions[substitutions.length - 1] === 0) {
      substitutions.pop();
      i++;
      templateChars();
      continue;
    }
    if (c === '/' && regexMayStart(tokens[tokens.length - 1])) {
      let j = i + 1;
      let inClass = false;
      while (j < src.length && src[j] !== '\n' && (src[j] !== '/' || inClass)) {
        if (src[j] === '\\') j++;
        else if (src[j] === '[') inClass = true;
        else if (src[j] === ']') inClass = false;
        j++;
      }
      if (src[j] === '/') {
        j++;
        while (j < src.length && /[a-z]/i.test(src[j]!)) j++;
        tokens.push({ kind: 'other', text: src.slice(i, j), line });
        i = j;
        continue;
      }
      // No closing slash on the line: it was a division after all.
    }
    if (substitutions.length > 0) {
      if (c === '{') substitutions[substitutions.length - 1]!++;
      else if (c === '}') substitutions[substitutions.length - 1]!--;
    }
    tokens.push({ kind: 'punct', text: c, line });
    i++;
  }
  return tokens;
}

const isName = (t: Token | undefined, text: string) => t?.kind === 'name' && t.text === text;
const isPunct = (t: Token | undefined, text: string) => t?.kind === 'punct' && t.text === text;
const literal = (t: Token | undefined) => (t?.kind === 'string' || t?.kind === 'template' ? t.text : undefined);

/** The `from '…'` that ends the statement starting at `start`, if it has one. */
function fromClause(tokens: Token[], start: number): Token | undefined {
  for (let j = start; j < tokens.length; j++) {
    const t = tokens[j]!;
    if (isName(t, 'from') && tokens[j + 1]?.kind === 'string') return tokens[j + 1];
    // The statement ended (or, without semicolons, the next one began) before any `from`.
    if (isPunct(t, ';') || isName(t, 'import') || isName(t, 'export')) return undefined;
  }
  return undefined;
}

/** Every `import … from '…'`, `import '…'`, `import('…')`, `export … from '…'` and `require('…')` in a file. */
export function findImports(src: string): ImportRef[] {
  const tokens = tokenize(src);
  const refs: ImportRef[] = [];
  tokens.forEach((t, k) => {
    if (t.kind !== 'name' || isPunct(tokens[k - 1], '.')) return;
    const next = tokens[k + 1];
    if (t.text === 'import' || t.text === 'require') {
      if (isPunct(next, '(')) {
        // A dynamic import (or an `import('…')` type): the argument must be a plain literal.
        const arg = tokens[k + 2];
        const specifier = literal(arg) !== undefined && isPunct(tokens[k + 3], ')') ? literal(arg)! : null;
        refs.push({ specifier, line: t.line, typeOnly: false });
        return;
      }
      if (t.text === 'require') return;
      if (next?.kind === 'string') {
        refs.push({ specifier: next.text, line: t.line, typeOnly: false });
        return;
      }
      if (isPunct(next, '.')) return; // import.meta
      const from = fromClause(tokens, k + 1);
      if (from) refs.push({ specifier: from.text, line: t.line, typeOnly: isTypeOnly(tokens, k) });
      return;
    }
    if (t.text === 'export' && (isPunct(next, '{') || isPunct(next, '*') || isName(next, 'type'))) {
      const from = fromClause(tokens, k + 1);
      if (from) refs.push({ specifier: from.text, line: t.line, typeOnly: isTypeOnly(tokens, k) });
    }
  });
  return refs;
}

// `import type X from`, `import type { X } from`, `export type { X } from`; but `import type from '…'`
// imports a default export named `type`. `import { type X }` is not type-only: under
// verbatimModuleSyntax it still loads the module.
function isTypeOnly(tokens: Token[], k: number): boolean {
  const after = tokens[k + 2];
  return isName(tokens[k + 1], 'type') && !isName(after, 'from') && !isPunct(after, ',') && !isPunct(after, '=');
}
