/** Putting a user's input into an LDAP filter without letting it change the filter. */

/**
 * RFC 4515 §3: in a filter's assertion value, `*`, `(`, `)`, `\` and NUL are written as `\2a`,
 * `\28`, `\29`, `\5c`, `\00`. Everything else may stand as it is (UTF-8 included). Without this,
 * a user name "*" would match every user, and ")(uid=*" would rewrite the filter.
 */
export function escapeFilterValue(value: string): string {
  return value.replace(/[*()\\\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The filter with each `{name}` replaced by its value, escaped. Unknown placeholders stay. */
export function fillFilter(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{([a-z]+)\}/g, (whole, name: string) => (Object.hasOwn(values, name) ? escapeFilterValue(values[name]!) : whole));
}
