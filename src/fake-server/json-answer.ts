/**
 * A small sample generator for json_schema answers: it produces the simplest value that satisfies
 * the common subset of JSON Schema used for structured output (objects, arrays, enums, scalars,
 * local $refs, anyOf/oneOf). It is not a general solver; it only has to be accepted by clients
 * that check required keys and types.
 */

type Schema = Record<string, unknown>;

const MAX_DEPTH = 12;

/**
 * How enum values (labels) are chosen. Without one, the first value. With a prompt, the values the
 * prompt names as whole words (case-insensitive; all of them for a list of labels, the first in
 * enum order for one label), else one value picked by a hash of the prompt: the same prompt always
 * gets the same label. `forced` (the `[[votes:...]]` token) overrides both.
 */
export interface EnumHint {
  prompt: string;
  forced?: readonly string[];
}

export function sampleFromSchema(schema: unknown, hint?: EnumHint): unknown {
  return sample(schema, isSchema(schema) ? schema : {}, 0, hint);
}

function sample(node: unknown, root: Schema, depth: number, hint?: EnumHint): unknown {
  if (!isSchema(node) || depth > MAX_DEPTH) return null;
  if ('const' in node) return node.const;
  if (Array.isArray(node.enum) && node.enum.length > 0) return hint ? chooseLabels(node.enum, hint, false)[0] : node.enum[0];
  if (typeof node.$ref === 'string') return sample(resolveRef(node.$ref, root), root, depth + 1, hint);
  for (const key of ['anyOf', 'oneOf'] as const) {
    const options = node[key];
    if (Array.isArray(options) && options.length > 0) {
      // Prefer a non-null branch: a null answer would satisfy the schema but tell a test nothing.
      const chosen = options.find((o) => !(isSchema(o) && o.type === 'null')) ?? options[0];
      return sample(chosen, root, depth + 1, hint);
    }
  }
  if (Array.isArray(node.allOf) && node.allOf.length > 0) {
    const merged = node.allOf.reduce<Schema>((acc, part) => (isSchema(part) ? mergeSchemas(acc, part) : acc), {});
    return sample(merged, root, depth + 1, hint);
  }
  switch (pickType(node)) {
    case 'object':
      return sampleObject(node, root, depth, hint);
    case 'array': {
      const items = isSchema(node.items) ? node.items : undefined;
      // A list of labels (multi-label): the labels that apply, which may be none.
      if (hint && items && Array.isArray(items.enum) && items.enum.length > 0) return chooseLabels(items.enum, hint, true);
      const count = Math.max(1, typeof node.minItems === 'number' ? node.minItems : 1);
      const item = sample(node.items ?? {}, root, depth + 1, hint);
      return Array.from({ length: count }, () => item);
    }
    case 'string':
      return sampleString(node);
    case 'integer':
      return sampleNumber(node, true);
    case 'number':
      return sampleNumber(node, false);
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return 'sample';
  }
}

function sampleObject(node: Schema, root: Schema, depth: number, hint?: EnumHint): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const props = isSchema(node.properties) ? node.properties : {};
  for (const [key, sub] of Object.entries(props)) out[key] = sample(sub, root, depth + 1, hint);
  if (Array.isArray(node.required)) {
    for (const key of node.required) {
      if (typeof key === 'string' && !(key in out)) out[key] = 'sample';
    }
  }
  return out;
}

function chooseLabels(values: unknown[], hint: EnumHint, many: boolean): unknown[] {
  if (hint.forced) {
    const forced = values.filter((v) => hint.forced!.includes(String(v)));
    if (forced.length > 0 || many) return many ? forced : forced.slice(0, 1);
  }
  const words = hint.prompt.replace(/\[\[[^\]]*\]\]/g, ' ').toLowerCase();
  const named = values.filter((v) => typeof v === 'string' && new RegExp(`(^|[^\\p{L}\\p{N}_])${escapeRegExp(v.toLowerCase())}($|[^\\p{L}\\p{N}_])`, 'u').test(words));
  if (named.length > 0) return many ? named : named.slice(0, 1);
  return [values[fnv1a(words) % values.length]];
}

/** 32-bit FNV-1a: a stable hash, the same on every platform and run. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function sampleString(node: Schema): string {
  let s = 'sample';
  if (typeof node.minLength === 'number' && node.minLength > s.length) s = s.padEnd(node.minLength, 'x');
  if (typeof node.maxLength === 'number' && node.maxLength < s.length) s = s.slice(0, node.maxLength);
  return s;
}

function sampleNumber(node: Schema, integer: boolean): number {
  let n = 1;
  if (typeof node.minimum === 'number' && n < node.minimum) n = node.minimum;
  if (typeof node.exclusiveMinimum === 'number' && n <= node.exclusiveMinimum) n = node.exclusiveMinimum + 1;
  if (typeof node.maximum === 'number' && n > node.maximum) n = node.maximum;
  if (typeof node.exclusiveMaximum === 'number' && n >= node.exclusiveMaximum) n = node.exclusiveMaximum - 1;
  return integer ? Math.ceil(n) : n;
}

function pickType(node: Schema): string | undefined {
  if (typeof node.type === 'string') return node.type;
  if (Array.isArray(node.type)) {
    const types = node.type.filter((t): t is string => typeof t === 'string');
    return types.find((t) => t !== 'null') ?? types[0];
  }
  if (isSchema(node.properties)) return 'object';
  if (node.items !== undefined) return 'array';
  return undefined;
}

/** Only local references (`#/$defs/x`, `#/definitions/x`, `#`); anything else yields null. */
function resolveRef(ref: string, root: Schema): unknown {
  if (!ref.startsWith('#')) return null;
  let node: unknown = root;
  for (const raw of ref.slice(1).split('/').filter(Boolean)) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isSchema(node)) return null;
    node = node[key];
  }
  return node;
}

function mergeSchemas(a: Schema, b: Schema): Schema {
  const merged: Schema = { ...a, ...b };
  if (isSchema(a.properties) && isSchema(b.properties)) merged.properties = { ...a.properties, ...b.properties };
  if (Array.isArray(a.required) && Array.isArray(b.required)) merged.required = [...a.required, ...b.required];
  return merged;
}

function isSchema(v: unknown): v is Schema {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
