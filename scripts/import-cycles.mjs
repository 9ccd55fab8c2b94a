#!/usr/bin/env node
/**
 * Fails (exit 1) when the modules under src/ import each other in a cycle, and prints each cycle.
 * Part of `npm run lint`; ESLint checks files one at a time and cannot see a cycle by itself.
 *
 * TypeScript's own parser reads each file's imports (static imports and re-exports, type-only ones
 * too, and `import()`), and TypeScript's resolver, with the project's tsconfig, maps each specifier
 * (`./x.js`) to the file it means (`./x.ts`) exactly as `tsc` does. No other dependency; it takes well
 * a second or two for the whole of src/.
 *
 * Usage: node scripts/import-cycles.mjs [folder]   (default: src)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';

const root = resolve(import.meta.dirname, '..');
const folder = resolve(root, process.argv[2] ?? 'src');

function tsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(path);
    return entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

function compilerOptions() {
  const configPath = join(root, 'tsconfig.json');
  const config = ts.readConfigFile(configPath, ts.sys.readFile);
  if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, '\n'));
  return ts.parseJsonConfigFileContent(config.config, ts.sys, root).options;
}

/**
 * A comment that says `import-cycle-allowed` right above an import leaves that import out: only for a
 * known cycle whose fix is under way elsewhere, stated in the same comment.
 */
const ALLOWED_MARK = 'import-cycle-allowed';

function markedAllowed(text, node) {
  const comments = ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [];
  return comments.some((c) => text.slice(c.pos, c.end).includes(ALLOWED_MARK));
}

/** Every module specifier a file names: imports, re-exports and `import('...')` calls. */
function specifiersOf(path) {
  const text = readFileSync(path, 'utf8');
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found = [];
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      if (!markedAllowed(text, node)) found.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      found.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** file -> the files of the same tree it imports. */
function importGraph(files, options) {
  const inTree = new Set(files);
  const graph = new Map();
  for (const file of files) {
    const targets = new Set();
    for (const specifier of specifiersOf(file)) {
      const resolved = ts.resolveModuleName(specifier, file, options, ts.sys).resolvedModule;
      if (resolved && !resolved.isExternalLibraryImport && inTree.has(resolve(resolved.resolvedFileName))) targets.add(resolve(resolved.resolvedFileName));
    }
    graph.set(file, [...targets]);
  }
  return graph;
}

/** Strongly connected components with more than one file, or a file that imports itself (Tarjan). */
function cyclicComponents(graph) {
  let counter = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const components = [];
  const connect = (v) => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) !== index.get(v)) return;
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v).includes(v)) components.push(component);
  };
  for (const v of graph.keys()) if (!index.has(v)) connect(v);
  return components;
}

/** One shortest cycle through the component's first file, as a list of files that ends where it starts. */
function oneCycle(graph, component) {
  const members = new Set(component);
  const start = [...component].sort()[0];
  const cameFrom = new Map([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift();
    for (const w of graph.get(v)) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let at = v; at !== null; at = cameFrom.get(at)) path.unshift(at);
        return path;
      }
      if (!cameFrom.has(w)) {
        cameFrom.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

const graph = importGraph(tsFiles(folder), compilerOptions());
const components = cyclicComponents(graph);
for (const component of components) {
  const cycle = oneCycle(graph, component).map((f) => relative(root, f));
  console.error(`import cycle (${component.length} files): ${cycle.join(' -> ')}`);
}
if (components.length > 0) {
  console.error(`${components.length} import cycle(s) in ${relative(root, folder)}/: move what both sides need into a module below them (docs/architecture.md#layers).`);
  process.exit(1);
}
