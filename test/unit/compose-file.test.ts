import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { ROOT } from '../helpers/cli.js';

// No Docker engine is needed: these check the shape that `docker compose up --scale worker=N` relies on.
interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  ports?: string[];
  container_name?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  working_dir?: string;
  healthcheck?: { test?: string[] };
  depends_on?: Record<string, { condition?: string }> | string[];
  stop_grace_period?: string;
}

/** "45s", "1m30s", "500ms" -> seconds, as compose reads a duration. */
function seconds(duration: string): number {
  let total = 0;
  for (const [, n, unit] of duration.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(n) * { ms: 0.001, s: 1, m: 60, h: 3600 }[unit as 'ms' | 's' | 'm' | 'h'];
  return total;
}

/** The Dockerfile's instructions, one per logical line (continuations joined, comments dropped). */
function instructions(dockerfile: string): string[] {
  return dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

describe('docker-compose.yml', async () => {
  const compose = parse(await readFile(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service> };
  const { redis, worker } = compose.services;

  it('Redis keeps an append-only file and never evicts', () => {
    const cmd = redis!.command!.join(' ');
    assert.match(cmd, /--appendonly yes/);
    assert.match(cmd, /--maxmemory-policy noeviction/);
    assert.ok(redis!.volumes?.some((v) => v.endsWith(':/data')), 'the AOF lives on a volume');
  });

  it('Redis has a healthcheck, and workers start once it is healthy', () => {
    assert.deepEqual(redis!.healthcheck?.test, ['CMD', 'redis-cli', 'ping']);
    assert.ok(worker!.depends_on && !Array.isArray(worker!.depends_on), 'depends_on with a condition');
    assert.equal(worker!.depends_on.redis?.condition, 'service_healthy');
  });

  it('the worker service can be scaled: no fixed name, no host port; it runs respool worker against the redis service', () => {
    assert.equal(worker!.container_name, undefined);
    assert.equal(worker!.ports, undefined);
    assert.deepEqual(worker!.command!.slice(0, 1), ['worker']);
    assert.equal(worker!.environment!.REDIS_URL, 'redis://redis:6379');
    assert.match(worker!.environment!.OPENRESPONSES_API_KEY!, /^\$\{OPENRESPONSES_API_KEY/, 'the key comes from the environment, not the file');
  });

  it('the worker is built from the Dockerfile: no node image running the host\'s node_modules', () => {
    assert.equal(worker!.build, '.');
    assert.notEqual(worker!.image, 'node:20');
    for (const v of worker!.volumes ?? []) {
      const [source, target] = v.split(':');
      assert.ok(!/node_modules/.test(source ?? '') && !/node_modules/.test(target ?? ''), `no node_modules volume: ${v}`);
    }
  });

  it('docker stop waits longer than the worker\'s grace for calls in flight', () => {
    const args = worker!.command!;
    const at = args.indexOf('--grace');
    const grace = at === -1 ? 30 : Number(args[at + 1]);
    assert.ok(worker!.stop_grace_period, 'stop_grace_period is set (the default is 10 s)');
    // After the grace the worker allows itself 10 s more to close its connections (SHUTDOWN_MARGIN_MS).
    assert.ok(seconds(worker!.stop_grace_period) > grace + 10, `${worker!.stop_grace_period} must exceed --grace ${grace} s + 10 s`);
  });

  it('mounts the project at the same absolute path, so image paths from enqueue resolve in the workers', () => {
    assert.equal(worker!.working_dir, '${PWD}');
    assert.ok(worker!.volumes?.includes('.:${PWD}'));
  });
});

describe('Dockerfile', async () => {
  const steps = instructions(await readFile(path.join(ROOT, 'Dockerfile'), 'utf8'));
  const ignored = (await readFile(path.join(ROOT, '.dockerignore'), 'utf8')).split('\n').map((l) => l.trim());

  it('starts from Node 20 and installs the dependencies inside the image with npm ci from the lock file', () => {
    assert.match(steps.find((s) => s.startsWith('FROM '))!, /^FROM node:20\b/);
    const copy = steps.findIndex((s) => /^COPY .*package-lock\.json/.test(s));
    const ci = steps.findIndex((s) => /^RUN .*\bnpm ci\b/.test(s));
    assert.ok(copy !== -1 && ci > copy, 'package-lock.json is copied, then npm ci runs');
  });

  it('builds dist inside the image and runs bin/respool.js from it, as node (which gets SIGTERM)', () => {
    assert.ok(steps.some((s) => /^RUN .*npm run build/.test(s)));
    const entry = steps.find((s) => s.startsWith('ENTRYPOINT '))!;
    assert.deepEqual(JSON.parse(entry.slice('ENTRYPOINT '.length)), ['node', '/opt/respool/bin/respool.js']);
  });

  it('never copies the host\'s node_modules or dist into the image', () => {
    assert.ok(ignored.includes('node_modules'));
    assert.ok(ignored.includes('dist'));
    assert.ok(!steps.some((s) => /^COPY\s+(\.\s|.*node_modules)/.test(s)), 'no COPY of the whole folder or of node_modules');
  });
});
