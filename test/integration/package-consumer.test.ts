import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REDIS_URL, ROOT, tempDir, testPrefix } from '../helpers/cli.js';
import { deletePrefix } from '../helpers/redis-scan.js';

const exec = promisify(execFile);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** The consumer's script: what a user of the published package writes (plain ESM, no TypeScript). */
const LABEL_SCRIPT = `
import { openRespool } from 'respool';
import { startFakeServer } from 'respool/fake-server';

const [redis, prefix] = process.argv.slice(2);
const fake = await startFakeServer();
const rp = await openRespool({ redis, prefix });
const lines = [];
try {
  const run = rp.run(
    { name: 'consumer', inputs: 'reviews.csv', prompt: 'Label this review: {{text}}', model: 'test-model', base_url: fake.url },
    { onLine: (line) => lines.push(line) },
  );
  const result = await run.promise;
  console.log(JSON.stringify({ outcome: result.outcome, ids: lines.map((l) => l.custom_id).sort(), statuses: [...new Set(lines.map((l) => l.status))] }));
} finally {
  await rp.close();
  await fake.close();
}
`;

/** Type-checked against the packed declarations. The expect-error line fails the check if the types resolve to any. */
const TYPED_CONSUMER = `
import { openRespool, ConfigError, ApiCallError, type Job, type OutputLine, type RunResult } from 'respool';
import { startFakeServer } from 'respool/fake-server';

export async function label(): Promise<RunResult> {
  const fake = await startFakeServer();
  const rp = await openRespool({ redis: 'redis://127.0.0.1:6379', prefix: 'typed' });
  const job: Job = { inputs: ['reviews.csv'], prompt: '{{text}}', model: 'test-model', base_url: fake.url, concurrency: 4 };
  const lines: OutputLine[] = [];
  const result = await rp.run(job, { onLine: (l) => lines.push(l) }).promise;
  // @ts-expect-error outcome is a union of strings, not a number
  const wrong: number = result.outcome;
  void wrong;
  void [ConfigError, ApiCallError];
  await rp.close();
  await fake.close();
  return result;
}
`;

/**
 * Installs the tarball in `project`. Offline from npm's cache, as CI has it after `npm ci`; where the
 * cache lacks the dependencies, the tarball is unpacked as npm would and the repository's installed
 * dependencies are linked under it. Returns which way was used.
 */
async function installTarball(project: string, tarball: string): Promise<'npm install --offline' | 'unpacked, dependencies linked'> {
  try {
    await exec(NPM, ['install', tarball, '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: project, timeout: 300_000 });
    return 'npm install --offline';
  } catch (err) {
    if (!/ENOTCACHED|only-if-cached/.test(String((err as { stderr?: string }).stderr ?? err))) throw err;
  }
  const pkg = path.join(project, 'node_modules', 'respool');
  await mkdir(pkg, { recursive: true });
  await exec('tar', ['-xzf', tarball, '-C', pkg, '--strip-components=1']);
  await symlink(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'), 'dir');
  return 'unpacked, dependencies linked';
}

describe('the packed package, installed in a fresh project', () => {
  const prefix = testPrefix();
  after(() => deletePrefix(prefix));

  it('imports respool and respool/fake-server, labels a CSV through onLine, and type-checks against the packed types', async (t) => {
    const work = await tempDir();
    // dist/ is built before the integration tests run (npm test); scripts are not run again here.
    const { stdout: packed } = await exec(NPM, ['pack', '--ignore-scripts', '--pack-destination', work], { cwd: ROOT, timeout: 300_000 });
    const tarball = path.join(work, packed.trim().split('\n').at(-1)!);
    const project = path.join(work, 'consumer');
    await mkdir(project);
    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
    await writeFile(path.join(project, 'reviews.csv'), 'id,text\nr1,great value\nr2,broke in a day\nr3,does the job\n');
    t.diagnostic(`installed by: ${await installTarball(project, tarball)}`);

    await writeFile(path.join(project, 'label.mjs'), LABEL_SCRIPT);
    const { stdout } = await exec(process.execPath, ['label.mjs', REDIS_URL, prefix], { cwd: project, timeout: 180_000 });
    assert.deepEqual(JSON.parse(stdout.trim()), { outcome: 'complete', ids: ['r1', 'r2', 'r3'], statuses: ['completed'] });

    await writeFile(path.join(project, 'consumer.ts'), TYPED_CONSUMER);
    const tsconfig = { compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: [] }, files: ['consumer.ts'] };
    await writeFile(path.join(project, 'tsconfig.json'), JSON.stringify(tsconfig));
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    await exec(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project, timeout: 180_000 }).catch((err: { stdout?: string }) => {
      assert.fail(`the consumer does not type-check against the packed types:\n${err.stdout ?? String(err)}`);
    });
  });
});
