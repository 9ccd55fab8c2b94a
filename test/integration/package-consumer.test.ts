import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
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
 * A lock file for `project` that pins respool (the tarball) and, at the versions this repository's
 * package-lock.json holds, every package respool needs at run time (its dev dependencies left out):
 * `npm ci` then installs them by integrity from npm's cache, which this repository's own `npm ci`
 * filled. (`npm install <tarball>` would need each package's registry metadata, which that cache lacks.)
 */
async function lockFor(tarball: string): Promise<{ manifest: object; lock: object }> {
  const ours = JSON.parse(await readFile(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean } & Record<string, unknown>> };
  const root = ours.packages['']!;
  const spec = `file:${tarball}`;
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', version: '1.0.0', dependencies: { respool: spec } },
    'node_modules/respool': { version: root.version, resolved: spec, license: root.license, dependencies: root.dependencies, bin: root.bin, engines: root.engines },
  };
  for (const [where, entry] of Object.entries(ours.packages)) if (where !== '' && !entry.dev) packages[where] = entry;
  return {
    manifest: { name: 'consumer', version: '1.0.0', private: true, type: 'module', dependencies: { respool: spec } },
    lock: { name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages },
  };
}

/**
 * Installs the tarball and its dependencies in `project` with `npm ci`: offline from npm's cache, or
 * from the registry when the cache lacks a package. Returns which way was used.
 */
async function installTarball(project: string, tarball: string): Promise<'npm ci --offline' | 'npm ci (registry)'> {
  const { manifest, lock } = await lockFor(tarball);
  await writeFile(path.join(project, 'package.json'), JSON.stringify(manifest, null, 2));
  await writeFile(path.join(project, 'package-lock.json'), JSON.stringify(lock, null, 2));
  const ci = (extra: string[]) => exec(NPM, ['ci', ...extra, '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: project, timeout: 300_000 });
  try {
    await ci(['--offline']);
    return 'npm ci --offline';
  } catch (err) {
    if (!/ENOTCACHED|only-if-cached/.test(String((err as { stderr?: string }).stderr ?? err))) throw err;
  }
  await ci(['--prefer-offline']);
  return 'npm ci (registry)';
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
    await writeFile(path.join(project, 'reviews.csv'), 'id,text\nr1,great value\nr2,broke in a day\nr3,does the job\n');
    t.diagnostic(`installed by: ${await installTarball(project, tarball)}`);
    // A real install: respool's own dependencies are in the project, not borrowed from this repository.
    for (const dep of ['bullmq', 'ioredis', 'zod']) await readFile(path.join(project, 'node_modules', dep, 'package.json'));

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
