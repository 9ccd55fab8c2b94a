import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import type { JobData, ReadOutcome } from '../../src/core/item.js';
import { enqueue } from '../../src/queue/producer.js';
import { createRedis } from '../../src/queue/connection.js';
import { runKeys, type RunKeys } from '../../src/queue/keys.js';
import { bullPrefix, jobIdFor } from '../../src/queue/keys.js';
import { areDone, areWritten, claim, deleteLedger, deliver, ledgerCounts, markWritten, RunLedger } from '../../src/queue/ledger.js';
import { REDIS_URL, testPrefix } from '../helpers/cli.js';
import { deletePrefix, keysUnder } from '../helpers/redis-scan.js';

describe('ledger (real Redis)', () => {
  let redis: Redis;
  let prefix: string;
  let keys: RunKeys;

  before(async () => {
    redis = createRedis(REDIS_URL);
    prefix = testPrefix();
  });

  beforeEach(async () => {
    // A fresh run for every test, all under this file's prefix.
    keys = runKeys(`run-${randomUUID().slice(0, 8)}`, prefix);
    // Deliveries need the run's meta (a run without it was cleaned or lost; see the deliver tests).
    await redis.hset(keys.meta, 'settings', '{}');
  });

  after(async () => {
    await deletePrefix(prefix, redis);
    assert.deepEqual(await keysUnder(prefix, redis), []);
    await redis.quit();
  });

  describe('claim', () => {
    it('new, then pending for the same source, duplicate (with firstSource) for another', async () => {
      assert.deepEqual(await claim(redis, keys, [{ id: 'j1', source: 'a.csv:1' }, { id: 'j2', source: 'a.csv:2' }]), [{ state: 'new' }, { state: 'new' }]);
      assert.deepEqual(await claim(redis, keys, [{ id: 'j1', source: 'a.csv:1' }, { id: 'j2', source: 'b.csv:9' }, { id: 'j3', source: 'a.csv:3' }]), [
        { state: 'pending' },
        { state: 'duplicate', firstSource: 'a.csv:2' },
        { state: 'new' },
      ]);
      assert.equal(await redis.hget(keys.ledger, 'j1'), '-a.csv:1', 'claimed: the "-" mark, then the source');
      assert.equal(await redis.hget(keys.ledger, 'j2'), '-a.csv:2', 'a duplicate does not overwrite the first claim');
    });

    it('sees duplicates inside one call', async () => {
      assert.deepEqual(
        await claim(redis, keys, [
          { id: 'x', source: 's:1' },
          { id: 'x', source: 's:2' },
          { id: 'x', source: 's:1' },
        ]),
        [{ state: 'new' }, { state: 'duplicate', firstSource: 's:1' }, { state: 'pending' }],
      );
    });

    it('done once delivered or written, for the same source; duplicate (source without its mark) for another', async () => {
      await claim(redis, keys, [{ id: 'd', source: 'f.jsonl:1' }, { id: 'w', source: 'f.jsonl:2' }]);
      await deliver(redis, keys, [{ id: 'd', line: '{"x":1}' }, { id: 'w', line: '{"x":2}' }]);
      await markWritten(redis, keys, ['w']);
      assert.deepEqual(
        await claim(redis, keys, [
          { id: 'd', source: 'f.jsonl:1' },
          { id: 'w', source: 'f.jsonl:2' },
          { id: 'd', source: 'g.jsonl:1' },
          { id: 'w', source: 'g.jsonl:2' },
        ]),
        // Once written, the first source is no longer kept: only that it was another one.
        [{ state: 'done' }, { state: 'done' }, { state: 'duplicate', firstSource: 'f.jsonl:1' }, { state: 'duplicate' }],
      );
    });

    it('an empty call sends nothing and returns nothing', async () => {
      assert.deepEqual(await claim(redis, keys, []), []);
      assert.equal(await redis.exists(keys.ledger), 0);
    });
  });

  describe('deliver', () => {
    it('first delivery is true, second false; the stream holds one entry per id', async () => {
      await claim(redis, keys, [{ id: 'a', source: 's:1' }, { id: 'b', source: 's:2' }]);
      assert.deepEqual(await deliver(redis, keys, [{ id: 'a', line: 'line-a-1' }]), [true]);
      assert.deepEqual(await deliver(redis, keys, [{ id: 'a', line: 'line-a-2' }, { id: 'b', line: 'line-b' }, { id: 'b', line: 'line-b-again' }]), [false, true, false]);
      const entries = (await redis.xrange(keys.results, '-', '+')) as Array<[string, string[]]>;
      assert.deepEqual(
        entries.map(([, fields]) => fields),
        [
          ['id', 'a', 'line', 'line-a-1'],
          ['id', 'b', 'line', 'line-b'],
        ],
      );
      assert.equal(await redis.hget(keys.ledger, 'a'), '=s:1');
    });

    it('nothing is delivered again once written', async () => {
      await claim(redis, keys, [{ id: 'a', source: 's:1' }]);
      await deliver(redis, keys, [{ id: 'a', line: 'L' }]);
      await markWritten(redis, keys, ['a']);
      await redis.del(keys.results);
      assert.deepEqual(await deliver(redis, keys, [{ id: 'a', line: 'L2' }]), [false]);
      assert.equal(await redis.xlen(keys.results), 0);
    });

    it('keeps a line byte for byte (unicode, newlines escaped in JSON, large)', async () => {
      const line = JSON.stringify({ custom_id: 'ü', output_text: 'a\nb\u2028c', pad: 'x'.repeat(100_000) });
      await claim(redis, keys, [{ id: 'u', source: 's:1' }]);
      await deliver(redis, keys, [{ id: 'u', line }]);
      const entries = (await redis.xrange(keys.results, '-', '+')) as Array<[string, string[]]>;
      assert.equal(entries.length, 1);
      assert.equal(entries[0]?.[1][3], line);
    });

    it('an empty call returns nothing', async () => {
      assert.deepEqual(await deliver(redis, keys, []), []);
      assert.equal(await redis.exists(keys.results), 0);
    });

    it(
      'an item whose source text starts with "=" or "+" is delivered like any other',
      async () => {
        const sources = ['=prices.csv:1', '+new/cat.png'];
        assert.deepEqual(
          await claim(redis, keys, sources.map((source, i) => ({ id: `odd${i}`, source }))),
          [{ state: 'new' }, { state: 'new' }],
        );
        assert.deepEqual(await areDone(redis, keys, ['odd0', 'odd1']), [false, false], 'not done before any delivery');
        assert.deepEqual(
          await claim(redis, keys, sources.map((source, i) => ({ id: `odd${i}`, source }))),
          [{ state: 'pending' }, { state: 'pending' }],
          're-enqueueing the same source is not a duplicate',
        );
        assert.deepEqual(await deliver(redis, keys, [{ id: 'odd0', line: 'L0' }, { id: 'odd1', line: 'L1' }]), [true, true]);
        assert.equal(await redis.xlen(keys.results), 2);
      },
    );
  });

  describe('areDone', () => {
    it('false for unknown and only-claimed ids, true once delivered or written', async () => {
      await claim(redis, keys, [{ id: 'c', source: 's:1' }, { id: 'd', source: 's:2' }, { id: 'w', source: 's:3' }]);
      await deliver(redis, keys, [{ id: 'd', line: 'D' }, { id: 'w', line: 'W' }]);
      await markWritten(redis, keys, ['w']);
      assert.deepEqual(await areDone(redis, keys, ['unknown', 'c', 'd', 'w']), [false, false, true, true]);
      assert.deepEqual(await areDone(redis, keys, []), []);
    });
  });

  describe('markWritten', () => {
    it("turns '=' (delivered) and plain (claimed) values into '+', counts each id once", async () => {
      await claim(redis, keys, [{ id: 'p', source: 'src:1' }, { id: 'd', source: 'src:2' }]);
      await deliver(redis, keys, [{ id: 'd', line: 'D' }]);
      assert.equal(await markWritten(redis, keys, ['p', 'd', 'd']), 2);
      assert.deepEqual(await redis.hmget(keys.ledger, 'p', 'd'), [null, null], 'written items leave the in-flight hash');
      assert.deepEqual(await areWritten(redis, keys, ['p', 'd']), [true, true]);
      assert.equal(await redis.get(keys.written), '2');
    });

    it('is idempotent: a second call counts nothing and changes nothing', async () => {
      await claim(redis, keys, [{ id: 'a', source: 's:1' }]);
      await deliver(redis, keys, [{ id: 'a', line: 'A' }]);
      assert.equal(await markWritten(redis, keys, ['a']), 1);
      assert.equal(await markWritten(redis, keys, ['a']), 0);
      assert.equal(await redis.hget(keys.ledger, 'a'), null);
      assert.equal(await redis.get(keys.written), '1');
    });

    it('counts an id that was never claimed (a line made from a failed job) and adds it', async () => {
      assert.equal(await markWritten(redis, keys, ['ghost']), 1);
      assert.deepEqual(await areWritten(redis, keys, ['ghost']), [true]);
      assert.deepEqual(await ledgerCounts(redis, keys), { items: 1, written: 1 });
    });

    it('deletes the writing key in the same step, also when nothing was new, also for an empty list', async () => {
      await claim(redis, keys, [{ id: 'a', source: 's:1' }]);
      await redis.set(keys.writing, JSON.stringify({ offset: 0, path: '/tmp/x' }));
      await markWritten(redis, keys, ['a']);
      assert.equal(await redis.exists(keys.writing), 0);

      await redis.set(keys.writing, JSON.stringify({ offset: 10, path: '/tmp/x' }));
      assert.equal(await markWritten(redis, keys, ['a']), 0);
      assert.equal(await redis.exists(keys.writing), 0);

      await redis.set(keys.writing, JSON.stringify({ offset: 20, path: '/tmp/x' }));
      assert.equal(await markWritten(redis, keys, []), 0);
      assert.equal(await redis.exists(keys.writing), 0);
      assert.equal(await redis.get(keys.written), '1');
    });
  });

  describe('areWritten and ledgerCounts', () => {
    it('areWritten is true only for written ids', async () => {
      await claim(redis, keys, [{ id: 'c', source: 's:1' }, { id: 'd', source: 's:2' }, { id: 'w', source: 's:3' }]);
      await deliver(redis, keys, [{ id: 'd', line: 'D' }, { id: 'w', line: 'W' }]);
      await markWritten(redis, keys, ['w']);
      assert.deepEqual(await areWritten(redis, keys, ['c', 'd', 'w', 'unknown', 'w']), [false, false, true, false, true]);
      assert.deepEqual(await areWritten(redis, keys, []), []);
    });

    it('ledgerCounts gives items claimed and lines written', async () => {
      assert.deepEqual(await ledgerCounts(redis, keys), { items: 0, written: 0 });
      await claim(redis, keys, [1, 2, 3, 4, 5].map((i) => ({ id: `j${i}`, source: `s:${i}` })));
      await claim(redis, keys, [{ id: 'j1', source: 'dup:9' }]);
      assert.deepEqual(await ledgerCounts(redis, keys), { items: 5, written: 0 });
      await deliver(redis, keys, [{ id: 'j1', line: '1' }, { id: 'j2', line: '2' }, { id: 'j3', line: '3' }]);
      await markWritten(redis, keys, ['j1', 'j2']);
      await markWritten(redis, keys, ['j2', 'j3']);
      assert.deepEqual(await ledgerCounts(redis, keys), { items: 5, written: 3 });
    });
  });

  describe('the compact written set (real job ids)', () => {
    it('written items leave the in-flight hash; re-runs skip them, duplicates are still found, deliveries refused', async () => {
      const items = Array.from({ length: 300 }, (_, i) => ({ id: jobIdFor('r', `c${i}`), source: `/in/a.csv:${i + 2}` }));
      assert.ok(items.every((e) => /^i[0-9a-f]{32}$/.test(e.id)));
      await claim(redis, keys, items);
      await deliver(redis, keys, items.map((e) => ({ id: e.id, line: `L${e.id}` })));
      assert.equal(await markWritten(redis, keys, items.slice(0, 200).map((e) => e.id)), 200);
      assert.equal(await redis.hlen(keys.ledger), 100, 'only the 100 unwritten items stay in the hash');
      assert.deepEqual(await ledgerCounts(redis, keys), { items: 300, written: 200 });
      assert.deepEqual(await areWritten(redis, keys, [items[0]!.id, items[199]!.id, items[200]!.id]), [true, true, false]);
      assert.deepEqual(await areDone(redis, keys, [items[0]!.id, items[200]!.id]), [true, true]);
      // A re-run: same sources are done; the same custom_id from another line is a duplicate.
      const again = await claim(redis, keys, [items[5]!, { id: items[6]!.id, source: '/in/b.csv:9' }, items[250]!]);
      assert.deepEqual(again, [{ state: 'done' }, { state: 'duplicate' }, { state: 'done' }]);
      assert.deepEqual(await deliver(redis, keys, [{ id: items[5]!.id, line: 'again' }]), [false], 'a written item is never delivered again');
      assert.equal(await markWritten(redis, keys, [items[5]!.id]), 0, 'nor counted twice');
      // Other ids sharing a bucket are not mistaken for written ones.
      const fresh = Array.from({ length: 50 }, (_, i) => ({ id: jobIdFor('r', `new${i}`), source: `/in/c.csv:${i}` }));
      assert.ok((await claim(redis, keys, fresh)).every((c) => c.state === 'new'));
      assert.equal(await markWritten(redis, keys, items.slice(200).map((e) => e.id)), 100);
      const buckets = await redis.keys(`${keys.ledger}:w:*`);
      assert.ok(buckets.length > 100, `written ids spread over buckets: ${buckets.length}`);
      assert.equal(await redis.object('ENCODING', buckets[0]!), 'listpack', 'small buckets stay compact');
      await deleteLedger(redis, keys);
      assert.deepEqual(await redis.keys(`${keys.ledger}*`), []);
    });
  });

  it('requeueWritten puts written items with a wanted status back in flight (for a retry); others are left alone', async () => {
    const ledger = new RunLedger(redis, keys);
    const a = { id: jobIdFor('r', 'a'), source: '/in/x.csv:2' };
    const b = { id: jobIdFor('r', 'b'), source: '/in/x.csv:3' };
    const c = { id: jobIdFor('r', 'c'), source: '/in/x.csv:4' };
    await claim(redis, keys, [a, b, c]);
    await deliver(redis, keys, [{ id: a.id, line: 'A' }, { id: b.id, line: 'B' }, { id: c.id, line: 'C' }]);
    await ledger.saveRetryData(a.id, { type: 'item', run: 'r', customId: 'a' } as unknown as JobData);
    await ledger.noteLineStatuses([{ id: a.id, status: 'failed' }, { id: b.id, status: 'completed' }, { id: c.id, status: 'failed' }]);
    await markWritten(redis, keys, [a.id, b.id]);
    // c is failed but not written yet; b is written but completed.
    assert.deepEqual(await ledger.requeueWritten(['failed'], [a.id, b.id, c.id]), { requeued: 1, missing: 0 }, 'only the written failed one');
    assert.deepEqual(await ledgerCounts(redis, keys), { items: 3, written: 1 });
    assert.equal(await redis.hget(keys.ledger, a.id), `-${a.source}`, 'claimed again under its old source');
    assert.equal(await redis.hget(keys.superseded, a.id), '1', 'its old line is to leave the file');
    assert.ok(await redis.hget(keys.retrying, a.id), 'its data waits in retrying until its job is queued');
    assert.equal(await redis.hget(keys.retryData, a.id), null);
    assert.deepEqual(await areWritten(redis, keys, [a.id]), [false]);
    assert.deepEqual(await deliver(redis, keys, [{ id: a.id, line: 'A2' }]), [true], 'its new line can be delivered');
    assert.equal(await markWritten(redis, keys, [a.id]), 1);
    assert.deepEqual(await ledgerCounts(redis, keys), { items: 3, written: 2 });
  });

  it('requeueWritten counts a written line with a wanted status whose data was not kept as missing', async () => {
    const ledger = new RunLedger(redis, keys);
    const a = { id: jobIdFor('r', 'a'), source: '/in/x.csv:2' };
    await claim(redis, keys, [a]);
    await deliver(redis, keys, [{ id: a.id, line: 'A' }]);
    await ledger.noteLineStatuses([{ id: a.id, status: 'incomplete' }]);
    await markWritten(redis, keys, [a.id]);
    assert.deepEqual(await ledger.requeueWritten(['failed', 'incomplete'], [a.id]), { requeued: 0, missing: 1 });
    assert.deepEqual(await areWritten(redis, keys, [a.id]), [true], 'it stays written');
  });

  it('runs stay apart: the same job id in two runs has two ledger entries', async () => {
    const other = runKeys(`other-${randomUUID().slice(0, 8)}`, prefix);
    await redis.hset(other.meta, 'settings', '{}');
    await claim(redis, keys, [{ id: 'same', source: 's:1' }]);
    assert.deepEqual(await claim(redis, other, [{ id: 'same', source: 't:1' }]), [{ state: 'new' }]);
    await deliver(redis, keys, [{ id: 'same', line: 'L' }]);
    assert.deepEqual(await areDone(redis, other, ['same']), [false]);
    assert.equal(await redis.xlen(other.results), 0);
  });
});

describe('producer: duplicate custom_ids (real Redis and BullMQ)', () => {
  it('a duplicate whose line-made id collides too is rejected naming the custom_id that was duplicated', async () => {
    const prefix = testPrefix();
    const redis = createRedis(REDIS_URL);
    const queue = new Queue<JobData>('dups', { connection: redis, prefix: bullPrefix(prefix) });
    try {
      const item = (customId: string, line: number): ReadOutcome => ({
        type: 'item',
        item: { customId, source: { file: 'in.jsonl', line }, request: { kind: 'prompt', text: 'x', images: [] } },
      });
      // Line 3 repeats "a"; the id made from its place, "in.jsonl:3", is line 2's custom_id.
      async function* outcomes() {
        yield item('a', 1);
        yield item('in.jsonl:3', 2);
        yield item('a', 3);
      }
      const stats = await enqueue(outcomes(), { redis, queue, run: 'dups', attempts: 1, prefix, cwd: '/data' });
      assert.equal(stats.duplicates, 2);
      const rejected = (await queue.getJobs(['wait'])).map((j) => j.data).filter((d) => d.type === 'rejected');
      assert.equal(rejected.length, 1);
      assert.equal(rejected[0]!.customId, 'in.jsonl:3#1');
      assert.equal((rejected[0] as { reason: string }).reason, 'duplicate custom_id "a" (first used at /data/in.jsonl:1)');
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
      await deletePrefix(prefix, redis);
      await redis.quit();
    }
  });
});
