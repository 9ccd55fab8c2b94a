/**
 * Prompt templates: `{{name}}` placeholders (spaces inside the braces allowed, so `{{ name }}` works and a
 * column called `product name` is written `{{product name}}`). There is deliberately no escaping or logic:
 * values are inserted as they are.
 */

export type RenderResult = { ok: true; text: string } | { ok: false; missing: string[] };

// The name may contain inner spaces but not braces; leading/trailing spaces are not part of it.
const PLACEHOLDER = /\{\{\s*([^{}\s](?:[^{}]*[^{}\s])?)\s*\}\}/g;

/** The distinct field names a template refers to, in order of first appearance. */
export function templateFields(template: string): string[] {
  const names = new Set<string>();
  for (const match of template.matchAll(PLACEHOLDER)) names.add(match[1] as string);
  return [...names];
}

/**
 * Fills every placeholder from `fields`. A field counts as present when it is an own property, whatever its
 * value; when any is absent nothing is rendered and all absent names are returned so one message can list them.
 */
export function renderTemplate(template: string, fields: Record<string, unknown>): RenderResult {
  const missing = templateFields(template).filter((name) => !Object.hasOwn(fields, name));
  if (missing.length > 0) return { ok: false, missing };
  // A replacer function (not a string) so `$&` and friends inside values are not interpreted.
  const text = template.replace(PLACEHOLDER, (_match, name: string) => formatValue(fields[name]));
  return { ok: true, text };
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return value;
  // JSON null means "no value": an empty string reads better in a prompt than the word "null".
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
