import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QueueKeys } from 'bullmq';
import { QUEUE_DEFAULTS } from '../../src/config/defaults.js';
import { RUN_NAME_PATTERN } from '../../src/config/schema.js';
import { bullPrefix, jobIdFor, runKeys, runsKey } from '../../src/queue/keys.js';
import { MicroBatcher } from '../../src/queue/micro-batcher.js';

describe('jobIdFor', () => {
  it('is deterministic', () => {
    assert.equal(jobIdFor('run-1', 'row-7'), jobIdFor('run-1', 'row-7'));
    assert.match(jobIdFor('run-1', 'row-7'), /^i[0-9a-f]{32}$/);
  });

  it('is never all digits and never holds ":" whatever the custom_id', () => {
    for (const id of ['', '0', '123456', 'a:b', ':::', '1:2', 'ünïcödé', 'x'.repeat(10_000), '\0', '\n']) {
      const jobId = jobIdFor('run:ish', id);
      assert.doesNotMatch(jobId, /^\d+$/);
      assert.ok(!jobId.includes(':'), jobId);
      assert.equal(jobId.length, 33);
    }
  });

  it('differs per run and per custom_id', () => {
    const ids = new Set<string>();
    const runs = ['a', 'b', 'ab', 'a.b', 'run-1'];
    const customIds = ['', 'a', 'b', 'ab', 'b\0', '\0b', 'a\0b', '1', '01'];
    for (const run of runs) for (const cid of customIds) ids.add(jobIdFor(run, cid));
    assert.equal(ids.size, runs.length * customIds.length);
  });

  it('keeps run and custom_id apart: no concatenation collisions for valid run names', () => {
    // Without a separator, ("a", "bc") and ("ab", "c") would hash the same text.
    assert.notEqual(jobIdFor('a', 'bc'), jobIdFor('ab', 'c'));
    // With "\0" as separator, a custom_id holding "\0" cannot pose as another run, because the run
    // is everything before the FIRST "\0" and valid run names never hold one.
    assert.notEqual(jobIdFor('a', 'b\0c'), jobIdFor('ab', 'c'));
    assert.notEqual(jobIdFor('a', 'b\0c'), jobIdFor('b', 'c'));
    assert.notEqual(jobIdFor('a', '\0b'), jobIdFor('a', 'b'));
    assert.notEqual(jobIdFor('a', 'a\0b'), jobIdFor('b', 'a'));
    assert.notEqual(jobIdFor('b', 'a\0b'), jobIdFor('a', 'b'));
    assert.notEqual(jobIdFor('a', 'b'), jobIdFor('b', 'a'));
    // Every pair of valid runs × tricky ids gives a distinct id.
    const runs = ['a', 'b', 'ab', 'a0', 'b.c'];
    const tricky = ['', '\0', 'a', 'b', 'a\0b', 'b\0', '\0b', 'ab', '\0\0', 'c\0a\0b'];
    const all = runs.flatMap((r) => tricky.map((c) => jobIdFor(r, c)));
    assert.equal(new Set(all).size, all.length);
    for (const r of runs) assert.match(r, RUN_NAME_PATTERN);
  });

  it('the separator design relies on run names never holding "\\0"', () => {
    // The only way to collide is a run name with "\0" in it: ("a\0b", "c") vs ("a", "b\0c") above would be
    // equal hashes if the run held the separator. Such names are refused by the schema.
    const hashOfRunA = jobIdFor('a', 'b\0c');
    const collidingButInvalidRun = 'a\0b';
    assert.equal(jobIdFor(collidingButInvalidRun, 'c'), hashOfRunA, 'documents why run names must not contain \\0');
    assert.doesNotMatch(collidingButInvalidRun, RUN_NAME_PATTERN);
  });
});

describe('runKeys and bullPrefix', () => {
  const prefix = 'rtest-keys';
  const runs = ['a', 'run', 'runs', 'q', 'meta', 'a.b', 'a_b', 'A-1', 'x'.repeat(64)];

  it('puts respool keys under <prefix>:run:<run>: and BullMQ under <prefix>:q', () => {
    assert.equal(bullPrefix(prefix), `${prefix}:q`);
    assert.equal(bullPrefix(), `${QUEUE_DEFAULTS.prefix}:q`);
    assert.equal(runsKey(prefix), `${prefix}:runs`);
    const k = runKeys('r1', prefix);
    assert.deepEqual(k, {
      meta: `${prefix}:run:r1:meta`,
      ledger: `${prefix}:run:r1:ledger`,
      results: `${prefix}:run:r1:results`,
      written: `${prefix}:run:r1:written`,
      writing: `${prefix}:run:r1:writing`,
      collectorLock: `${prefix}:run:r1:collector`,
      budgets: `${prefix}:run:r1:budgets`,
      lineCounts: `${prefix}:run:r1:line_counts`,
      progress: `${prefix}:run:r1:progress`,
      failedLines: `${prefix}:run:r1:failed_lines`,
      retryData: `${prefix}:run:r1:retry_data`,
      retrying: `${prefix}:run:r1:retrying`,
      superseded: `${prefix}:run:r1:superseded`,
      content: `${prefix}:run:r1:content`,
      dedupe: `${prefix}:run:r1:dedupe`,
      dedupeRetryable: `${prefix}:run:r1:dedupe:retryable`,
      calls: `${prefix}:run:r1:ledger:calls`,
      spend: `${prefix}:run:r1:spend`,
      spendLeases: `${prefix}:run:r1:spend:leases`,
    });
    assert.equal(runKeys('r1').meta, `${QUEUE_DEFAULTS.prefix}:run:r1:meta`);
  });

  it('never collide with any BullMQ key of any run (queue keys and job keys)', () => {
    const bull = new QueueKeys(bullPrefix(prefix));
    const bullKeys = new Set<string>();
    for (const run of runs) {
      for (const key of Object.values(bull.getKeys(run))) bullKeys.add(key);
      const jobKey = bull.toKey(run, jobIdFor(run, 'c1'));
      bullKeys.add(jobKey);
      bullKeys.add(`${jobKey}:lock`);
      bullKeys.add(`${jobKey}:logs`);
    }
    const ours = [runsKey(prefix), ...runs.flatMap((run) => Object.values(runKeys(run, prefix)))];
    for (const key of ours) {
      assert.ok(!bullKeys.has(key), `${key} is also a BullMQ key`);
      assert.ok(!key.startsWith(`${bullPrefix(prefix)}:`), `${key} is inside BullMQ's key space`);
    }
    for (const key of bullKeys) assert.ok(key.startsWith(`${prefix}:q:`), key);
  });

  it('keys of different runs are all distinct, and distinct within a run', () => {
    const all = runs.flatMap((run) => Object.values(runKeys(run, prefix)));
    assert.equal(new Set(all).size, all.length);
    assert.equal(new Set(Object.values(runKeys('a', prefix))).size, Object.keys(runKeys('a', prefix)).length);
    // The set of runs does not live under any run's keys.
    for (const key of all) assert.notEqual(key, runsKey(prefix));
  });

  it('other prefixes give other keys', () => {
    assert.notEqual(runKeys('r', 'p1').ledger, runKeys('r', 'p2').ledger);
    assert.notEqual(runsKey('p1'), runsKey('p2'));
  });
});

/** Lets every pending setImmediate (and the promise callbacks after it) run. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('MicroBatcher', () => {
  it('gathers the calls of one event-loop turn into one batch, in order', async () => {
    const batches: number[][] = [];
    const b = new MicroBatcher<number, string>(async (items) => {
      batches.push([...items]);
      return items.map((i) => `r${i}`);
    });
    const results = await Promise.all([b.submit(1), b.submit(2), b.submit(3)]);
    assert.deepEqual(batches, [[1, 2, 3]]);
    assert.deepEqual(results, ['r1', 'r2', 'r3']);
  });

  it('does not run anything before the turn ends', async () => {
    let calls = 0;
    const b = new MicroBatcher<number, number>(async (items) => {
      calls++;
      return items;
    });
    const p = b.submit(1);
    assert.equal(calls, 0);
    assert.equal(await p, 1);
    assert.equal(calls, 1);
  });

  it('calls of separate turns go in separate batches', async () => {
    const batches: number[][] = [];
    const b = new MicroBatcher<number, number>(async (items) => {
      batches.push([...items]);
      return items.map((i) => i * 10);
    });
    const first = b.submit(1);
    await nextTurn();
    const second = b.submit(2);
    assert.deepEqual(await Promise.all([first, second]), [10, 20]);
    assert.deepEqual(batches, [[1], [2]]);
  });

  it('never sends more than maxBatch items in one batch, and loses none', async () => {
    const batches: number[][] = [];
    const b = new MicroBatcher<number, number>(async (items) => {
      batches.push([...items]);
      return items.map((i) => -i);
    }, 3);
    const inputs = [1, 2, 3, 4, 5, 6, 7];
    const results = await Promise.all(inputs.map((i) => b.submit(i)));
    assert.deepEqual(results, inputs.map((i) => -i));
    assert.deepEqual(batches, [[1, 2, 3], [4, 5, 6], [7]]);
  });

  it('gives each caller the result at its own position, even when batches overlap', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const b = new MicroBatcher<string, string>(async (items) => {
      if (items[0] === 'slow') await gate;
      return items.map((s) => s.toUpperCase());
    });
    const slow = b.submit('slow');
    const slow2 = b.submit('also-slow');
    await nextTurn();
    const fast = b.submit('fast');
    assert.equal(await fast, 'FAST');
    release();
    assert.deepEqual(await Promise.all([slow, slow2]), ['SLOW', 'ALSO-SLOW']);
  });

  it('rejects every call of a failed batch with its error, and keeps working afterwards', async () => {
    let fail = true;
    const boom = new Error('redis down');
    const b = new MicroBatcher<number, number>(async (items) => {
      if (fail) throw boom;
      return items;
    });
    const settled = await Promise.allSettled([b.submit(1), b.submit(2), b.submit(3)]);
    assert.deepEqual(
      settled.map((s) => s.status),
      ['rejected', 'rejected', 'rejected'],
    );
    for (const s of settled) assert.equal((s as PromiseRejectedResult).reason, boom);
    fail = false;
    assert.deepEqual(await Promise.all([b.submit(4), b.submit(5)]), [4, 5]);
  });

  it('a failed batch does not affect calls in another batch', async () => {
    const b = new MicroBatcher<number, number>(async (items) => {
      if (items.includes(13)) throw new Error('unlucky');
      return items;
    }, 2);
    const settled = await Promise.allSettled([b.submit(1), b.submit(2), b.submit(13), b.submit(4), b.submit(5)]);
    assert.deepEqual(
      settled.map((s) => s.status),
      ['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled'],
    );
  });
});
