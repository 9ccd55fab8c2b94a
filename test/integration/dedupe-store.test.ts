import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Queue, Redis } from '../../src/core/cjs-deps.js';
import { claimRequests, forgetSharedAnswers, jobKeyPrefix, settleRequests } from '../../src/queue/dedupe.js';
import { bullPrefix, runKeys } from '../../src/queue/keys.js';
import { REDIS_URL, testPrefix } from '../helpers/cli.js';
import { deletePrefix } from '../helpers/redis-scan.js';

/** The claims and answers in Redis, against real BullMQ jobs: who calls, who waits, who takes over. */
describe('dedupe store (Redis)', () => {
  const prefix = testPrefix();
  const run = 'store';
  const keys = runKeys(run, prefix);
  const jobs = jobKeyPrefix(run, prefix);
  let redis: Redis;
  let queue: Queue<unknown>;
  const K = 'a'.repeat(64);

  before(async () => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    queue = new Queue(run, { connection: redis, prefix: bullPrefix(prefix) });
  });
  after(async () => {
    await queue.close();
    await deletePrefix(prefix);
    redis.disconnect();
  });

  const claim = async (id: string, key = K) => (await claimRequests(redis, keys, jobs, [{ key, id }]))[0]!;

  it('the job key prefix names the run\'s BullMQ job hashes', async () => {
    await queue.add('item', {}, { jobId: 'iprobe' });
    assert.equal(await redis.exists(`${jobs}iprobe`), 1);
  });

  it('first claim calls; an identical item waits while the caller\'s job exists; the caller\'s own job claims again and calls', async () => {
    await queue.add('item', {}, { jobId: 'icaller' });
    assert.deepEqual(await claim('icaller'), { action: 'call' });
    assert.deepEqual(await claim('itwin'), { action: 'wait', caller: 'icaller' });
    // A caller whose worker died runs again (BullMQ retries its job): it still holds the key.
    assert.deepEqual(await claim('icaller'), { action: 'call' });
    assert.deepEqual(await claim('itwin'), { action: 'wait', caller: 'icaller' });
  });

  it('in one batch, twins are told apart: one calls, the other waits', async () => {
    const key = 'b'.repeat(64);
    await queue.add('item', {}, { jobId: 'ione' });
    const both = await claimRequests(redis, keys, jobs, [{ key, id: 'ione' }, { key, id: 'itwo' }]);
    assert.deepEqual(both, [{ action: 'call' }, { action: 'wait', caller: 'ione' }]);
  });

  it('a caller whose job is gone without an answer (died, given up, cancelled) is replaced by the next claim', async () => {
    const key = 'c'.repeat(64);
    await queue.add('item', {}, { jobId: 'igone' });
    assert.deepEqual(await claim('igone', key), { action: 'call' });
    assert.equal((await claim('iwaiter', key)).action, 'wait');
    await queue.remove('igone');
    assert.deepEqual(await claim('iwaiter', key), { action: 'call' }, 'the waiter takes over');
    assert.equal(await redis.hget(keys.dedupe, key), '@iwaiter');
  });

  it('an answer is kept for every later claim; a failure releases the key, but only its holder\'s', async () => {
    const key = 'd'.repeat(64);
    await queue.add('item', {}, { jobId: 'iholder' });
    assert.equal((await claim('iholder', key)).action, 'call');
    await settleRequests(redis, keys, [{ key, id: 'iother', line: null, retryableStatus: null }]);
    assert.equal((await claim('ilate', key)).action, 'wait', 'a release by another job leaves the holder');
    await settleRequests(redis, keys, [{ key, id: 'iholder', line: null, retryableStatus: null }]);
    assert.equal(await redis.hexists(keys.dedupe, key), 0, 'released');
    assert.deepEqual(await claim('ilate', key), { action: 'call' });
    await settleRequests(redis, keys, [{ key, id: 'ilate', line: '{"custom_id":"late"}', retryableStatus: null }]);
    assert.deepEqual(await claim('iafter', key), { action: 'copy', line: '{"custom_id":"late"}' });
    // The first answer wins over a second one (a caller that was replaced and still finished).
    await settleRequests(redis, keys, [{ key, id: 'iholder', line: '{"custom_id":"holder"}', retryableStatus: null }]);
    assert.deepEqual(await claim('iafter', key), { action: 'copy', line: '{"custom_id":"late"}' });
  });

  it('retry forgets the shared answers of the statuses it queues again, and only those', async () => {
    const [inc, fail, done] = ['e', 'f', '0'].map((c) => c.repeat(64)) as [string, string, string];
    await settleRequests(redis, keys, [
      { key: inc, id: 'i1', line: '{"status":"incomplete"}', retryableStatus: 'incomplete' },
      { key: fail, id: 'i2', line: '{"status":"failed"}', retryableStatus: 'failed' },
      { key: done, id: 'i3', line: '{"status":"completed"}', retryableStatus: null },
    ]);
    assert.equal(await forgetSharedAnswers(redis, keys, ['incomplete']), 1);
    assert.equal(await redis.hexists(keys.dedupe, inc), 0);
    assert.equal(await redis.hexists(keys.dedupe, fail), 1);
    assert.equal(await redis.hexists(keys.dedupe, done), 1);
    assert.deepEqual(await redis.hgetall(keys.dedupeRetryable), { [fail]: 'failed' });
  });
});
