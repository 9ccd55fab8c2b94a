import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { BatchState } from '../../src/queue/batch-state.js';
import { createRedis } from '../../src/queue/connection.js';
import { REDIS_URL } from '../helpers/cli.js';
import { deletePrefix } from '../helpers/redis-scan.js';

describe('BatchState (real Redis)', () => {
  let redis: Redis;
  const prefix = `rtest-batch-${randomUUID().slice(0, 8)}`;

  before(() => {
    redis = createRedis(REDIS_URL);
  });

  after(async () => {
    await deletePrefix(prefix);
    await redis.quit();
  });

  it('counts a try once per chunk: reading the same batch files again after a crash counts nothing more', async () => {
    const state = new BatchState(redis, 'tries', prefix);
    assert.equal(await state.addTry('item-1', '1'), 1);
    // The driver died before the chunk ended; the next one reads the same output file again.
    assert.equal(await state.addTry('item-1', '1'), 1);
    assert.equal(await state.addTry('item-2', '1'), 1, 'another item of the chunk counts on its own');
    // The item went into a new batch, which answered it with an error worth another try too.
    assert.equal(await state.addTry('item-1', '2'), 2);
    assert.equal(await state.addTry('item-1', '2'), 2);
    assert.equal(Number(await redis.hget(state.keys.tries, 'item-1')), 2);
  });
});
