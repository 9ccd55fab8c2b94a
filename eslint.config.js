import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Layers of src/ (docs/architecture.md#layers): each folder may import only the folders listed for
// it. A file directly in src/ (the library entry points index.ts and respool.ts) is `(api)`.
// Test code, bench and scripts may import anything.
const LAYER_IMPORTS = {
  core: ['core'],
  config: ['core', 'config', 'inputs', 'cost'],
  inputs: ['core', 'config', 'inputs', 'cost'],
  cost: ['core', 'config', 'inputs', 'cost'],
  queue: ['core', 'config', 'inputs', 'cost', 'queue'],
  batch: ['core', 'config', 'inputs', 'cost', 'queue', 'batch', 'worker', 'sinks', 'report'],
  worker: ['core', 'config', 'inputs', 'cost', 'queue', 'batch', 'worker', 'sinks', 'report'],
  // The collector and reports read what the workers delivered; they never reach into the worker.
  sinks: ['core', 'config', 'inputs', 'cost', 'queue', 'batch', 'sinks', 'report'],
  report: ['core', 'config', 'inputs', 'cost', 'queue', 'batch', 'sinks', 'report'],
  pipeline: ['core', 'config', 'inputs', 'cost', 'queue', 'batch', 'worker', 'sinks', 'report', 'pipeline'],
  schedule: ['core', 'config', 'inputs', 'cost', 'queue', 'batch', 'worker', 'sinks', 'report', 'pipeline', 'schedule'],
  '(api)': ['core', 'config', 'inputs', 'cost', 'queue', 'batch', 'worker', 'sinks', 'report', 'pipeline', 'schedule'],
  cli: ['core', 'config', 'inputs', 'cost', 'queue', 'batch', 'worker', 'sinks', 'report', 'pipeline', 'schedule', '(api)', 'cli', 'fake-server'],
  // Stand-alone, shipped as `respool/fake-server`: only core, and the provider's Batch API shapes.
  'fake-server': ['core', 'fake-server'],
};
const FAKE_SERVER_EXTRA = ['batch/types.js'];
const FOLDERS = Object.keys(LAYER_IMPORTS).filter((f) => f !== '(api)');
/** Deepest folder nesting under src/<folder>/ that the rules cover (src/worker/structured/x.ts is 2). */
const MAX_DEPTH = 6;

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Regular expressions of the import specifiers a file `depth` folders below src/ in `folder` may not use. */
function forbiddenSpecifiers(folder, depth) {
  const allowed = LAYER_IMPORTS[folder];
  const up = depth === 0 ? '\\./' : '\\.\\./'.repeat(depth);
  const forbidden = FOLDERS.filter((f) => f !== folder && !allowed.includes(f));
  const found = [];
  if (forbidden.length > 0) {
    const extra = folder === 'fake-server' ? `(?!${FAKE_SERVER_EXTRA.map(escape).join('|')}$)` : '';
    found.push(`^${up}${extra}(?:${forbidden.map(escape).join('|')})(?:/|$)`);
  }
  // The files directly in src/ are the public API: only the command line builds on it.
  if (!allowed.includes('(api)') && folder !== '(api)') found.push(`^${up}[^/]*$`);
  return found;
}

function layerMessage(folder) {
  return `Layer rule: src/${folder === '(api)' ? '*.ts' : folder} may import only from ${LAYER_IMPORTS[folder].join(', ')} (docs/architecture.md#layers).`;
}

/**
 * The rules for one folder and depth: `no-restricted-imports` for imports, type imports and
 * re-exports; `no-restricted-syntax` for `import()` and `import('...').Type`, which that rule does not
 * look at. Selectors cannot hold a `/`, so it is written `\x2F` there.
 */
function layerRules(folder, depth) {
  const regexes = forbiddenSpecifiers(folder, depth);
  if (regexes.length === 0) return null;
  const message = layerMessage(folder);
  const inSelector = (regex) => `/${regex.replaceAll('/', '\\x2F')}/`;
  return {
    'no-restricted-imports': ['error', { patterns: regexes.map((regex) => ({ regex, caseSensitive: true, message })) }],
    'no-restricted-syntax': [
      'error',
      ...regexes.flatMap((regex) => [
        { selector: `ImportExpression[source.value=${inSelector(regex)}]`, message },
        { selector: `TSImportType[argument.literal.value=${inSelector(regex)}]`, message },
      ]),
    ],
  };
}

function layerConfigs() {
  const configs = [{ files: ['src/*.ts'], rules: layerRules('(api)', 0) }];
  for (const folder of FOLDERS) {
    for (let depth = 1; depth <= MAX_DEPTH; depth++) {
      const rules = layerRules(folder, depth);
      if (rules) configs.push({ files: [`src/${folder}/${'*/'.repeat(depth - 1)}*.ts`], rules });
    }
  }
  return configs;
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'out/**', '.respool/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', Buffer: 'readonly', URL: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', fetch: 'readonly', TextDecoder: 'readonly', TextEncoder: 'readonly', structuredClone: 'readonly', setImmediate: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  ...layerConfigs(),
  {
    // The library takes every setting as an option; only the command line turns the environment into options.
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Only src/cli reads the environment: take the value as an option (docs/architecture.md#layers)' }],
    },
  },
);
