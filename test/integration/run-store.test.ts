import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createRedis } from '../../src/queue/connection.js';
import { CostCap } from '../../src/queue/cost-cap.js';
import { bullPrefix, jobIdFor, runsKey } from '../../src/queue/keys.js';
import { RunStore } from '../../src/queue/run-store.js';
import type { RunSettings } from '../../src/queue/run-meta.js';
import { REDIS_URL } from '../helpers/cli.js';
import { deletePrefix, dumpPrefix } from '../helpers/redis-scan.js';

function settings(run: string): RunSettings {
  return { run, model: 'm', request: {}, detail: 'auto', baseUrl: 'http://127.0.0.1:1', attempts: 2, timeoutMs: 1000, backoffMs: 10, maxBackoffMs: 100, maxImageBytes: 1000, out: '/tmp/x.jsonl', limits: {}, modelLimits: {} } as RunSettings;
}

describe('RunStore (real Redis)', () => {
  let redis: Redis;
  const prefix = `rtest-store-${randomUUID().slice(0, 8)}`;

  before(() => {
    redis = createRedis(REDIS_URL);
  });

  after(async () => {
    await deletePrefix(prefix);
    await redis.quit();
  });

  it('registers a run and moves it through its states', async () => {
    const store = new RunStore(redis, 'states', prefix);
    assert.equal(await store.load(), null);
    assert.equal(await store.isKept(), false);
    await store.saveSettings(settings('states'));
    assert.ok(await store.isKept());
    assert.deepEqual(await redis.smembers(runsKey(prefix)), ['states']);
    let status = await store.load();
    assert.equal(status?.state, 'running');
    assert.equal(status?.enqueueDone, false);
    assert.equal(status?.settings.model, 'm');
    await store.markEnqueueDone();
    await store.markStopped('key refused', 'api_unavailable');
    status = await store.load();
    assert.deepEqual([status?.state, status?.stopReason, status?.stopKind, status?.enqueueDone], ['stopped', 'key refused', 'api_unavailable', true]);
    await store.markRunning();
    assert.equal(await store.loadState(), 'running');
    assert.equal((await store.load())?.stopReason, null);
    const queue = new Queue('states', { connection: redis, prefix: bullPrefix(prefix) });
    try {
      await store.markCancelled(queue);
      assert.equal(await store.loadState(), 'cancelled');
      assert.equal(await queue.isPaused(), true, 'no worker takes another job');
    } finally {
      await queue.close();
    }
    // Saving the settings again (enqueueing again) re-opens the run.
    await store.saveSettings(settings('states'));
    assert.equal(await store.loadState(), 'running');
  });

  it('counts API failures in a row, and does not bring back a cleaned run', async () => {
    const store = new RunStore(redis, 'circuit', prefix);
    assert.deepEqual(await store.recordApiFailure(), { failures: 0, spanMs: 0, state: 'running' }, 'no run, nothing recorded');
    assert.equal(await redis.exists(store.keys.meta), 0);
    await store.saveSettings(settings('circuit'));
    assert.equal((await store.recordApiFailure()).failures, 1);
    assert.equal((await store.recordApiFailure()).failures, 2);
    await store.resetApiFailures();
    assert.equal((await store.recordApiFailure()).failures, 1);
  });

  it('keeps whether the results file was read, and the collector batch record', async () => {
    const store = new RunStore(redis, 'file', prefix);
    await store.saveSettings(settings('file'));
    assert.equal(await store.resultsState(), 'unread');
    await store.markFresh();
    assert.equal(await store.resultsState(), 'fresh');
    await store.markResultsRead();
    assert.equal(await store.resultsState(), 'read');
    assert.equal(await store.unfinishedWriting(), null);
    await store.saveWriting({ offset: 42, path: '/tmp/r.jsonl' });
    assert.deepEqual(await store.unfinishedWriting(), { offset: 42, path: '/tmp/r.jsonl' });
    const id = jobIdFor('file', 'a');
    await store.ledger.claimItems([{ id, source: '/in/a.csv:2' }]);
    await store.ledger.deliver([{ id, line: '{"custom_id":"a"}' }]);
    assert.equal(await store.deliveredCount(), 1);
    const [entry] = await store.readDelivered(10);
    assert.deepEqual([entry?.id, entry?.text], [id, '{"custom_id":"a"}']);
    await store.ledger.markWritten([id]);
    assert.equal(await store.unfinishedWriting(), null, 'marking the batch written clears the record');
    await store.dropDelivered([entry!.streamId]);
    assert.equal(await store.deliveredCount(), 0);
  });

  it('lets only the holder of the collector lock renew or release it', async () => {
    const store = new RunStore(redis, 'lock', prefix);
    assert.equal(await store.tryLockCollector('a', 10_000), true);
    assert.equal(await store.tryLockCollector('b', 10_000), false);
    assert.equal(await store.collectorLockHolder(), 'a');
    assert.equal(await store.renewCollectorLock('b', 60_000), false);
    await store.releaseCollectorLock('b');
    assert.equal(await store.collectorLockHolder(), 'a', "another token's release leaves the lock");
    assert.equal(await store.renewCollectorLock('a', 60_000), true);
    assert.ok((await redis.pttl(store.keys.collectorLock)) > 10_000);
    await store.releaseCollectorLock('a');
    assert.equal(await store.collectorLockHolder(), null);
    await store.tryLockCollector('dead', 10_000);
    await store.breakCollectorLock();
    assert.equal(await store.tryLockCollector('c', 10_000), true);
  });

  it('clean removes every key of the run, and nothing of another run', async () => {
    const other = new RunStore(redis, 'other', prefix);
    await other.saveSettings(settings('other'));
    const before = await dumpPrefix(`${prefix}:run:other`);
    const store = new RunStore(redis, 'gone', prefix);
    const queue = new Queue('gone', { connection: redis, prefix: bullPrefix(prefix) });
    try {
      await store.saveSettings(settings('gone'));
      const ids = Array.from({ length: 50 }, (_, i) => jobIdFor('gone', `c${i}`));
      await store.ledger.claimItems(ids.map((id, i) => ({ id, source: `/in/a.csv:${i + 2}` })));
      await store.ledger.claimCalls(60_000, [{ id: ids[0]!, owner: 'w1' }]);
      await store.ledger.deliver(ids.slice(0, 40).map((id) => ({ id, line: '{}' })));
      await store.ledger.saveRetryData(ids[1]!, { type: 'item' } as never);
      await store.ledger.noteLineStatuses([{ id: ids[1]!, status: 'failed' }]);
      await store.ledger.markWritten(ids.slice(0, 30));
      await store.markResultsRead();
      await store.recordBudget('b1');
      await store.tryLockCollector('t', 10_000);
      await new CostCap(redis, 'gone', 1_000_000, prefix).reserve('lease', 10);
      await queue.add('item', { x: 1 }, { jobId: ids[45] });
      assert.ok((await dumpPrefix(`${prefix}:run:gone`)).size > 10);
      await store.clean(queue);
      assert.deepEqual([...(await dumpPrefix(`${prefix}:run:gone`)).keys()], []);
      assert.deepEqual([...(await dumpPrefix(`${prefix}:q:gone`)).keys()], []);
      assert.deepEqual(await redis.smembers(runsKey(prefix)).then((r) => r.filter((n) => n === 'gone')), []);
      assert.deepEqual(await dumpPrefix(`${prefix}:run:other`), before);
    } finally {
      await queue.close();
    }
  });

  it('clean can keep the collector lock (a command that holds it and starts the run over)', async () => {
    const store = new RunStore(redis, 'fresh', prefix);
    const queue = new Queue('fresh', { connection: redis, prefix: bullPrefix(prefix) });
    try {
      await store.saveSettings(settings('fresh'));
      await store.tryLockCollector('t', 10_000);
      await store.clean(queue, { keepCollectorLock: true });
      assert.equal(await store.collectorLockHolder(), 't');
      assert.equal(await store.isKept(), false);
    } finally {
      await queue.close();
    }
  });
});
