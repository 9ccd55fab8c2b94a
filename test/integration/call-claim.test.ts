import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { silentLogger } from '../../src/cli/logger.js';
import type { JobData } from '../../src/core/item.js';
import { startFakeServer, type FakeServer } from '../../src/fake-server/index.js';
import { createRedis } from '../../src/queue/connection.js';
import { jobOptions } from '../../src/queue/job-options.js';
import { bullPrefix, jobIdFor, runKeys } from '../../src/queue/keys.js';
import { claim, claimCalls, deliver, releaseCalls } from '../../src/queue/ledger.js';
import type { RunSettings } from '../../src/queue/run-meta.js';
import { RunStore } from '../../src/queue/run-store.js';
import { WorkerSet } from '../../src/worker/worker-set.js';
import { REDIS_URL, testPrefix, waitFor } from '../helpers/cli.js';
import { deletePrefix } from '../helpers/redis-scan.js';

/**
 * The call claim: whatever the timing of jobs, a second job for an item whose line is delivered, or
 * that another job is calling for, makes no API call. Real Redis, real WorkerSet, fake server over HTTP.
 */

function settings(run: string, baseUrl: string): RunSettings {
  return {
    run, model: 'm', request: {}, detail: 'auto', limits: {}, modelLimits: {}, baseUrl,
    attempts: 2, timeoutMs: 10_000, backoffMs: 10, maxBackoffMs: 100, maxImageBytes: 1 << 20, out: '/dev/null',
  } as RunSettings;
}

function itemJob(run: string, customId: string, line: number): JobData {
  return { type: 'item', run, customId, source: { file: '/in/x.jsonl', line }, request: { kind: 'prompt', text: `about ${customId}`, images: [] } };
}

describe('the call claim (real Redis, worker and fake server)', { timeout: 60_000 }, () => {
  const prefix = testPrefix();
  let redis: Redis;
  let fake: FakeServer;
  let workers: WorkerSet;
  let workersRedis: Redis;

  before(async () => {
    redis = createRedis(REDIS_URL);
    workersRedis = createRedis(REDIS_URL);
    fake = await startFakeServer();
    workers = new WorkerSet({ redis: workersRedis, log: silentLogger, concurrency: 4, apiKey: 'sk-claim-test', prefix, lockDurationMs: 5000, stalledIntervalMs: 2500 });
  });
  after(async () => {
    await workers.close(5000);
    await fake.close();
    await deletePrefix(prefix);
    await redis.quit();
    await workersRedis.quit();
  });

  async function setUp(run: string): Promise<Queue<JobData>> {
    await new RunStore(redis, run, prefix).saveSettings(settings(run, fake.url));
    const queue = new Queue<JobData>(run, { connection: redis, prefix: bullPrefix(prefix) });
    await workers.add(run);
    return queue;
  }

  it('a job added again after the item\'s first job delivered and was deleted makes no call (the producer\'s "pending" race)', async () => {
    const run = 'readd';
    const queue = await setUp(run);
    const keys = runKeys(run, prefix);
    const data = itemJob(run, 'r1', 1);
    const id = jobIdFor(run, 'r1');
    const source = '/in/x.jsonl:1';
    // The producer claims the item and adds its job; a worker calls, delivers, and the job is deleted.
    assert.deepEqual(await claim(redis, keys, [{ id, source }]), [{ state: 'new' }]);
    await queue.add(data.type, data, jobOptions(id, 2));
    await waitFor(async () => (await redis.xlen(keys.results)) === 1 && (await queue.getJob(id)) === undefined, 20_000, 'the first line');
    assert.equal(fake.stats().byKey[id], 1);
    // The same id added again, as a producer does that read "pending" just before the first job ended.
    await queue.add(data.type, data, jobOptions(id, 2));
    await waitFor(async () => (await queue.getJob(id)) === undefined, 20_000, 'the second job to end');
    assert.equal(fake.stats().byKey[id], 1, 'the second job called the API');
    assert.equal(await redis.xlen(keys.results), 1, 'one line');
    assert.equal(await redis.hlen(keys.calls), 0, 'no claim is left behind');
    await queue.close();
  });

  it('while another job holds a live claim on the item, a job waits for it instead of calling; it calls once the claim lapses', async () => {
    const run = 'busy';
    const queue = await setUp(run);
    const keys = runKeys(run, prefix);
    const data = itemJob(run, 'b1', 1);
    const id = jobIdFor(run, 'b1');
    await claim(redis, keys, [{ id, source: '/in/x.jsonl:1' }]);
    // Another worker's job (one that lost its lock, say) is calling for the item: its claim lives 1.5 s.
    assert.deepEqual(await claimCalls(redis, keys, 1500, [{ id, owner: 'other-worker:1' }]), [{ state: 'go' }]);
    const t0 = Date.now();
    await queue.add(data.type, data, jobOptions(id, 2));
    await waitFor(async () => (await redis.xlen(keys.results)) === 1, 20_000, 'the line');
    assert.equal(fake.stats().byKey[id], 1, 'one call, after the other claim lapsed');
    assert.ok(Date.now() - t0 >= 1000, 'the job waited for the other claim');
    const [, fields] = ((await redis.xrange(keys.results, '-', '+')) as Array<[string, string[]]>)[0]!;
    assert.equal(JSON.parse(fields[3]!).status, 'completed');
    await queue.close();
  });

  it('claims: the owner renews its own, another owner is told to wait; refused once the line is delivered, and when the meta is gone', async () => {
    const run = 'states';
    await new RunStore(redis, run, prefix).saveSettings(settings(run, fake.url));
    const keys = runKeys(run, prefix);
    const id = jobIdFor(run, 's1');
    await claim(redis, keys, [{ id, source: '/in/x.jsonl:1' }]);
    const [first, again, other] = await claimCalls(redis, keys, 60_000, [{ id, owner: 'a' }, { id, owner: 'a' }, { id, owner: 'b' }]);
    assert.deepEqual([first, again], [{ state: 'go' }, { state: 'go' }]);
    assert.equal(other!.state, 'busy');
    assert.ok((other as { waitMs: number }).waitMs > 50_000 && (other as { waitMs: number }).waitMs <= 60_000);
    await releaseCalls(redis, keys, [{ id, owner: 'b' }]);
    assert.equal((await claimCalls(redis, keys, 60_000, [{ id, owner: 'b' }]))[0]!.state, 'busy', "another owner's release leaves the claim");
    await releaseCalls(redis, keys, [{ id, owner: 'a' }]);
    assert.deepEqual(await claimCalls(redis, keys, 60_000, [{ id, owner: 'b' }]), [{ state: 'go' }], 'released by its owner');
    assert.deepEqual(await deliver(redis, keys, [{ id, line: '{}' }]), [true]);
    assert.equal(await redis.hexists(keys.calls, id), 0, 'the delivery ends the claim');
    assert.deepEqual(await claimCalls(redis, keys, 60_000, [{ id, owner: 'c' }]), [{ state: 'done' }]);
    await redis.del(keys.meta);
    assert.deepEqual(await claimCalls(redis, keys, 60_000, [{ id: jobIdFor(run, 'other'), owner: 'a' }]), [{ state: 'lost' }]);
    assert.deepEqual(await deliver(redis, keys, [{ id: jobIdFor(run, 'other'), line: '{}' }]), [false], 'a run without meta takes no line');
  });
});
