import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { finished, runCli, spawnCli, tempDir, waitFor } from '../helpers/cli.js';

/** With no REDIS_URL and nothing answering locally, respool starts (and stops) a redis-server itself. */
describe('embedded Redis', () => {
  const env = (stateDir: string) => ({ REDIS_URL: '', RESPOOL_LOCAL_REDIS_URL: 'redis://127.0.0.1:1', RESPOOL_STATE_DIR: stateDir });
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const pids: number[] = [];
  after(() => {
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  it('starts a redis-server with AOF in the state folder and stops it at exit', async () => {
    const state = await tempDir();
    const res = await runCli(['status'], { env: env(state) });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /started (redis|valkey)-server on redis:\/\/127\.0\.0\.1:\d+/);
    assert.equal(res.stdout.trim(), 'no runs');
    const pid = Number(readFileSync(path.join(state, 'redis', 'pid'), 'utf8'));
    pids.push(pid);
    await waitFor(() => !alive(pid), 10_000, 'the embedded server to stop');
    assert.ok(existsSync(path.join(state, 'redis', 'appendonlydir')), 'AOF is on');
  });

  it('is shared by processes started from the same folder, and stopped by the last one', async () => {
    const state = await tempDir();
    const worker = spawnCli(['worker'], { env: env(state) });
    const workerDone = finished(worker);
    let stderr = '';
    worker.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitFor(() => /started (redis|valkey)-server/.test(stderr), 20_000, 'the worker to start Redis');
    const pid = Number(readFileSync(path.join(state, 'redis', 'pid'), 'utf8'));
    pids.push(pid);

    const status = await runCli(['status'], { env: env(state) });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stderr, /using the embedded Redis/);
    assert.ok(alive(pid), 'still running while the worker uses it');

    worker.kill('SIGTERM');
    assert.equal((await workerDone).code, 0);
    await waitFor(() => !alive(pid), 10_000, 'the embedded server to stop after its last user');
  });
});
