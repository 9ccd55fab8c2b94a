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

  it('the worker service can be scaled: no fixed name, no host port; it runs respool worker against the redis service', () => {
    assert.equal(worker!.container_name, undefined);
    assert.equal(worker!.ports, undefined);
    assert.deepEqual(worker!.command!.slice(0, 3), ['node', 'bin/respool.js', 'worker']);
    assert.equal(worker!.environment!.REDIS_URL, 'redis://redis:6379');
    assert.match(worker!.environment!.OPENRESPONSES_API_KEY!, /^\$\{OPENRESPONSES_API_KEY/, 'the key comes from the environment, not the file');
  });

  it('mounts the project at the same absolute path, so image paths from enqueue resolve in the workers', () => {
    assert.equal(worker!.working_dir, '${PWD}');
    assert.ok(worker!.volumes?.includes('.:${PWD}'));
  });
});
