/**
 * The layer rules of eslint.config.js and the cycle check of scripts/import-cycles.mjs, run on
 * probe files: a wrong arrow between the folders of src/ must fail `npm run lint`, a right one must
 * not, and an import cycle must fail it too.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const LAYER_RULES = new Set(['no-restricted-imports', 'no-restricted-syntax', 'no-restricted-properties']);

/** The layer rules' messages that ESLint gives `code` as the file `file` (relative to the repository). */
async function layerErrorsOf(eslint: ESLint, file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return (result?.messages ?? []).filter((m) => m.ruleId !== null && LAYER_RULES.has(m.ruleId)).map((m) => m.message);
}

/** The same for a file that imports `specifier`. */
function layerErrors(eslint: ESLint, file: string, specifier: string): Promise<string[]> {
  return layerErrorsOf(eslint, file, `import { probe } from '${specifier}';\nexport const used = probe;\n`);
}

describe('layer rules', () => {
  const eslint = new ESLint({ cwd: root });

  test('an import from a higher layer fails, naming the rule of the importing folder', async () => {
    const [message, ...rest] = await layerErrors(eslint, 'src/queue/probe.ts', '../worker/worker-set.js');
    assert.equal(rest.length, 0);
    assert.match(message ?? '', /Layer rule: src\/queue may import only from core, config, inputs, cost, queue/);
  });

  test('the rules hold in subfolders, at any depth', async () => {
    assert.equal((await layerErrors(eslint, 'src/worker/limits/probe.ts', '../../cli/logger.js')).length, 1);
    assert.equal((await layerErrors(eslint, 'src/sinks/export/probe.ts', '../../worker/worker-set.js')).length, 1);
    assert.equal((await layerErrors(eslint, 'src/cost/probe.ts', '../queue/keys.js')).length, 1);
    assert.equal((await layerErrors(eslint, 'src/core/probe.ts', '../config/defaults.js')).length, 1);
  });

  test('imports from the same or a lower layer pass', async () => {
    assert.deepEqual(await layerErrors(eslint, 'src/queue/probe.ts', '../core/item.js'), []);
    assert.deepEqual(await layerErrors(eslint, 'src/queue/probe.ts', '../cost/prices.js'), []);
    assert.deepEqual(await layerErrors(eslint, 'src/worker/limits/probe.ts', '../../queue/keys.js'), []);
    assert.deepEqual(await layerErrors(eslint, 'src/worker/limits/probe.ts', '../budget.js'), []);
    assert.deepEqual(await layerErrors(eslint, 'src/schedule/probe.ts', '../pipeline/run.js'), []);
    assert.deepEqual(await layerErrors(eslint, 'src/cli/commands/probe.ts', '../../respool.js'), []);
  });

  test('nothing but the command line imports cli or the public entry points', async () => {
    assert.equal((await layerErrors(eslint, 'src/respool.ts', './cli/logger.js')).length, 1);
    assert.equal((await layerErrors(eslint, 'src/pipeline/probe.ts', '../cli/session.js')).length, 1);
    assert.equal((await layerErrors(eslint, 'src/worker/probe.ts', '../index.js')).length, 1);
    assert.deepEqual(await layerErrors(eslint, 'src/respool.ts', './pipeline/run.js'), []);
  });

  test('the fake server stands alone: core and the Batch API shapes only', async () => {
    assert.deepEqual(await layerErrors(eslint, 'src/fake-server/probe.ts', '../core/image-size.js'), []);
    assert.deepEqual(await layerErrors(eslint, 'src/fake-server/probe.ts', '../batch/types.js'), []);
    assert.equal((await layerErrors(eslint, 'src/fake-server/probe.ts', '../batch/client.js')).length, 1);
    assert.equal((await layerErrors(eslint, 'src/fake-server/probe.ts', '../worker/errors.js')).length, 1);
  });

  test('type-only imports, re-exports, import() and import types are held to the same rules', async () => {
    const rule = /Layer rule: src\/config may import only from core, config, inputs, cost/;
    const cases = [
      "import type { WorkerSet } from '../worker/worker-set.js';\nexport type Probe = WorkerSet;\n",
      "export { WorkerSet } from '../worker/worker-set.js';\n",
      "export const probe = () => import('../worker/worker-set.js');\n",
      "export type Probe = import('../worker/worker-set.js').WorkerSet;\n",
    ];
    for (const code of cases) {
      const errors = await layerErrorsOf(eslint, 'src/config/probe.ts', code);
      assert.equal(errors.length, 1, code);
      assert.match(errors[0] ?? '', rule, code);
    }
    assert.deepEqual(await layerErrorsOf(eslint, 'src/config/probe.ts', "export const probe = () => import('../inputs/index.js');\n"), []);
  });

  test('only src/cli reads the environment: process.env anywhere else in src fails lint', async () => {
    const readsEnv = 'export const home = process.env.HOME;\n';
    for (const file of ['src/queue/probe.ts', 'src/pipeline/probe.ts', 'src/worker/limits/probe.ts', 'src/respool-probe.ts', 'src/fake-server/probe.ts']) {
      const errors = await layerErrorsOf(eslint, file, readsEnv);
      assert.equal(errors.length, 1, file);
      assert.match(errors[0]!, /Only src\/cli reads the environment/);
    }
    assert.deepEqual(await layerErrorsOf(eslint, 'src/cli/probe.ts', readsEnv), []);
    assert.deepEqual(await layerErrorsOf(eslint, 'src/cli/commands/probe.ts', readsEnv), []);
  });

  test('tests may import anything', async () => {
    assert.deepEqual(await layerErrors(eslint, 'test/unit/probe.test.ts', '../../src/cli/logger.js'), []);
  });
});

describe('import cycle check', () => {
  /** Runs scripts/import-cycles.mjs on a folder of the given files. */
  function checkCycles(files: Record<string, string>): { status: number | null; stderr: string } {
    const dir = mkdtempSync(path.join(tmpdir(), 'respool-cycles-'));
    try {
      for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
      const run = spawnSync(process.execPath, [path.join(root, 'scripts/import-cycles.mjs'), dir], { encoding: 'utf8' });
      return { status: run.status, stderr: run.stderr };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test('modules without a cycle pass', () => {
    const run = checkCycles({ 'a.ts': "import { b } from './b.js';\nexport const a = b;\n", 'b.ts': 'export const b = 1;\n' });
    assert.equal(run.status, 0, run.stderr);
  });

  test('a cycle fails and is printed file by file', () => {
    const run = checkCycles({
      'a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
      'b.ts': "import type { C } from './c.js';\nexport const b: C = 1;\n",
      'c.ts': "export type C = number;\nexport const c = async () => (await import('./a.js')).a;\n",
      'd.ts': "import { a } from './a.js';\nexport const d = a;\n",
    });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /import cycle \(3 files\): \S*a\.ts -> \S*b\.ts -> \S*c\.ts -> \S*a\.ts/);
    assert.doesNotMatch(run.stderr, /d\.ts/);
  });

  test('an import marked import-cycle-allowed is left out', () => {
    const run = checkCycles({
      'a.ts': "// import-cycle-allowed: the fix is under way\nimport { b } from './b.js';\nexport const a = () => b;\n",
      'b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
    });
    assert.equal(run.status, 0, run.stderr);
  });
});
