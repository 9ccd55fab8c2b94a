import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { loadRun, type RunSettings } from '../../src/queue/run-meta.js';
import { RunStore } from '../../src/queue/run-store.js';

const saveRun = (redis: Redis, settings: RunSettings, prefix: string) => new RunStore(redis, settings.run, prefix).saveSettings(settings);
import { REDIS_URL, testPrefix } from '../helpers/cli.js';
import { deletePrefix } from '../helpers/redis-scan.js';

describe('the deadline of a run', () => {
  const prefix = testPrefix();
  const redis = new Redis(REDIS_URL);
  after(async () => {
    await deletePrefix(prefix);
    await redis.quit();
  });
  const settings = (deadlineAt?: number) => ({ run: 'dl', model: 'm', mode: 'auto', ...(deadlineAt === undefined ? {} : { deadlineAt }) }) as unknown as RunSettings;

  it('registered again (resumed, enqueued again), the run keeps the deadline it was first registered with', async () => {
    await saveRun(redis, settings(1_000), prefix);
    await saveRun(redis, settings(9_000), prefix);
    assert.equal((await loadRun(redis, 'dl', prefix))?.settings.deadlineAt, 1_000);
  });

  it('a run first registered without a deadline takes the one it is given later', async () => {
    await saveRun(redis, { ...settings(), run: 'dl2' }, prefix);
    await saveRun(redis, { ...settings(5_000), run: 'dl2' }, prefix);
    assert.equal((await loadRun(redis, 'dl2', prefix))?.settings.deadlineAt, 5_000);
  });
});
