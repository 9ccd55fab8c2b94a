/**
 * Where each setting is written in a job file, so that an error names the line to fix
 * ("concurrency: ... (from job.yaml:4)"). Only for messages: a field it cannot place is named without
 * a line.
 */
import type * as Yaml from 'yaml';

/** Dotted field path → 1-based line. YAML from the document's nodes; JSON by a key written once. */
export function fieldLines(text: string, yaml: typeof Yaml | null): Map<string, number> {
  return yaml ? yamlLines(text, yaml) : jsonLines(text);
}

function yamlLines(text: string, yaml: typeof Yaml): Map<string, number> {
  const counter = new yaml.LineCounter();
  const doc = yaml.parseDocument(text, { lineCounter: counter });
  const lines = new Map<string, number>();
  const walk = (node: unknown, prefix: string) => {
    if (!yaml.isMap(node)) return;
    for (const pair of node.items) {
      if (!yaml.isScalar(pair.key) || !pair.key.range) continue;
      const key = `${prefix}${String(pair.key.value)}`;
      lines.set(key, counter.linePos(pair.key.range[0]).line);
      walk(pair.value, `${key}.`);
    }
  };
  walk(doc.contents, '');
  return lines;
}

/**
 * JSON has no positions without a parser of its own: a key whose quoted name appears once in the
 * file is placed on that line, under every path that ends with it (only paths of that key ask).
 */
function jsonLines(text: string): Map<string, number> {
  const byName = new Map<string, number[]>();
  for (const m of text.matchAll(/"((?:[^"\\]|\\.)*)"\s*:/g)) {
    const line = text.slice(0, m.index).split('\n').length;
    byName.set(m[1]!, [...(byName.get(m[1]!) ?? []), line]);
  }
  const lines = new Map<string, number>();
  const walk = (value: unknown, prefix: string) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
    for (const [k, v] of Object.entries(value)) {
      const at = byName.get(k);
      if (at?.length === 1) lines.set(`${prefix}${k}`, at[0]!);
      walk(v, `${prefix}${k}.`);
    }
  };
  try {
    walk(JSON.parse(text), '');
  } catch {
    // Not JSON: the caller reports that.
  }
  return lines;
}
