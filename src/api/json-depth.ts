/**
 * How deeply a JSON text nests, found by one pass over its characters before it is parsed.
 * JSON.parse copes with deep nesting, but every later walk over the value (schema validation,
 * the handlers) recurses and would overflow the stack: such a body is refused with a 400 first.
 * No SPP body nests more than a few levels.
 */
export const MAX_JSON_DEPTH = 64;

export function jsonDepthExceeds(text: string, max: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}
