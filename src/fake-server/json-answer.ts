/**
 * A small sample generator for json_schema answers: it produces the simplest value that satisfies
 * the common subset of JSON Schema used for structured output (objects, arrays, enums, scalars,
 * local $refs, anyOf/oneOf). It is not a general solver; it only has to be accepted by clients
 * that check required keys and types.
 */

type Schema = Record<string, unknown>;

const MAX_DEPTH = 12;

export function sampleFromSchema(schema: unknown): unknown {
  return sample(schema, isSchema(schema) ? schema : {}, 0);
}

function sample(node: unknown, root: Schema, depth: number): unknown {
  if (!isSchema(node) || depth > MAX_DEPTH) return null;
  if ('const' in node) return node.const;
  if (Array.isArray(node.enum) && node.enum.length > 0) return node.enum[0];
  if (typeof node.$ref === 'string') return sample(resolveRef(node.$ref, root), root, depth + 1);
  for (const key of ['anyOf', 'oneOf'] as const) {
    const options = node[key];
    if (Array.isArray(options) && options.length > 0) {
      // Prefer a non-null branch: a null answer would satisfy the schema but tell a test nothing.
      const chosen = options.find((o) => !(isSchema(o) && o.type === 'null')) ?? options[0];
      return sample(chosen, root, depth + 1);
    }
  }
  if (Array.isArray(node.allOf) && node.allOf.length > 0) {
    const merged = node.allOf.reduce<Schema>((acc, part) => (isSchema(part) ? mergeSchemas(acc, part) : acc), {});
    return sample(merged, root, depth + 1);
  }
  switch (pickType(node)) {
    case 'object':
      return sampleObject(node, root, depth);
    case 'array': {
      const count = Math.max(1, typeof node.minItems === 'number' ? node.minItems : 1);
      const item = sample(node.items ?? {}, root, depth + 1);
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

function sampleObject(node: Schema, root: Schema, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const props = isSchema(node.properties) ? node.properties : {};
  for (const [key, sub] of Object.entries(props)) out[key] = sample(sub, root, depth + 1);
  if (Array.isArray(node.required)) {
    for (const key of node.required) {
      if (typeof key === 'string' && !(key in out)) out[key] = 'sample';
    }
  }
  return out;
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
