import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { CostCap, readSpend } from '../../src/queue/cost-cap.js';
import { RunStore } from '../../src/queue/run-store.js';
import { sleep } from '../../src/core/sleep.js';
import { REDIS_URL, testPrefix } from '../helpers/cli.js';
import { deletePrefix, dumpPrefix } from '../helpers/redis-scan.js';
import { Queue } from 'bullmq';

describe('max_cost cap (real Redis)', () => {
  const redis = new Redis(REDIS_URL);
  const prefix = testPrefix();
  after(async () => {
    await deletePrefix(prefix);
    redis.disconnect();
  });

  it('admits while spent + in flight + the call fit; waits while only calls in flight are in the way; then caps', async () => {
    const cap = new CostCap(redis, 'r1', 1000, prefix);
    assert.equal((await cap.reserve('a', 400)).outcome, 'granted');
    assert.equal((await cap.reserve('b', 400)).outcome, 'granted');
    // 800 reserved: a third call of 400 fits once the others settle below their estimates.
    const waiting = await cap.reserve('c', 400);
    assert.deepEqual(waiting, { outcome: 'wait', spentNanos: 0, reservedNanos: 800 });
    await cap.settle('a', 100);
    await cap.settle('b', 150);
    assert.deepEqual(await cap.reserve('c', 400), { outcome: 'granted', spentNanos: 250, reservedNanos: 400 });
    await cap.settle('c', 500);
    // 750 spent: a call of up to 400 would pass 1000 whatever is in flight, so the run is capped...
    assert.equal((await cap.reserve('d', 400)).outcome, 'capped');
    // ...and stays capped, even for a call that would fit.
    assert.equal((await cap.reserve('e', 1)).outcome, 'capped');
    assert.deepEqual(await readSpend(redis, 'r1', prefix), { spentNanos: 750, reservedNanos: 0, cappedAtNanos: 1000 });
  });

  it('concurrent reservations from many callers never reserve past the cap', async () => {
    const caps = Array.from({ length: 4 }, () => new CostCap(redis, 'r2', 10_000, prefix));
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => caps[i % 4]!.reserve(`l${i}`, 300)));
    const granted = results.filter((r) => r.outcome === 'granted').length;
    assert.equal(granted, 33, 'floor(10000 / 300) calls');
    assert.ok(results.every((r) => r.outcome !== 'capped'), 'nothing was spent yet: the rest wait');
    assert.equal((await readSpend(redis, 'r2', prefix)).reservedNanos, 33 * 300);
  });

  it("a dead worker's reservation lapses; a new max_cost lifts the cap", async () => {
    const short = new CostCap(redis, 'r3', 1000, prefix, 200);
    assert.equal((await short.reserve('dead', 900)).outcome, 'granted');
    assert.equal((await short.reserve('x', 200)).outcome, 'wait');
    await sleep(300);
    assert.equal((await short.reserve('x', 200)).outcome, 'granted', 'the dead reservation expired');
    await short.settle('x', 950);
    assert.equal((await short.reserve('y', 100)).outcome, 'capped');
    const raised = new CostCap(redis, 'r3', 2000, prefix);
    assert.equal((await raised.reserve('y', 100)).outcome, 'granted');
  });

  it('clean forgets the spend', async () => {
    const cap = new CostCap(redis, 'r4', 1000, prefix);
    await cap.reserve('a', 10);
    await cap.settle('a', 10);
    const queue = new Queue('r4', { connection: redis, prefix: `${prefix}:q` });
    await new RunStore(redis, 'r4', prefix).clean(queue);
    await queue.close();
    const left = [...(await dumpPrefix(prefix)).keys()].filter((k) => k.includes(':run:r4:'));
    assert.deepEqual(left, []);
  });
});
