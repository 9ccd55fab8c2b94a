import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { silentLogger } from '../../src/cli/logger.js';
import type { JobData } from '../../src/core/item.js';
import type { OutputLine } from '../../src/core/output-line.js';
import { createRedis } from '../../src/queue/connection.js';
import { bullPrefix, jobIdFor, runKeys, type RunKeys } from '../../src/queue/keys.js';
import { claim, deliver, ledgerCounts, markWritten } from '../../src/queue/ledger.js';
import { loadRun, type RunSettings } from '../../src/queue/run-meta.js';
import { RunStore } from '../../src/queue/run-store.js';
import { Collector, CollectorBusyError } from '../../src/sinks/collector.js';
import { sleep } from '../../src/core/sleep.js';
import { REDIS_URL, testPrefix } from '../helpers/cli.js';
import { deletePrefix, keysUnder } from '../helpers/redis-scan.js';

const T = { timeout: 60_000 };

function outputLine(run: string, customId: string, n: number): OutputLine {
  return {
    custom_id: customId,
    status: 'completed',
    model: 'test-model',
    output_text: `answer ${n} — ü`,
    usage: { input_tokens: 10, output_tokens: 5, total_tokens: 15 },
    response_id: `resp_${n}`,
    attempts: 1,
    latency_ms: 42,
    source: { file: 'in.csv', line: n + 1 },
    run,
    finished_at: '2025-01-01T00:00:00.000Z',
  };
}

function settingsFor(run: string, out: string): RunSettings {
  return {
    run,
    model: 'test-model',
    request: {},
    detail: 'auto',
    limits: {},
    modelLimits: {},
    baseUrl: 'http://127.0.0.1:1/v1',
    attempts: 1,
    timeoutMs: 5000,
    backoffMs: 10,
    maxBackoffMs: 100,
    maxImageBytes: 1024,
    out,
  };
}

async function fileLines(file: string): Promise<OutputLine[]> {
  const text = await readFile(file, 'utf8');
  assert.ok(text === '' || text.endsWith('\n'), 'the file ends with a whole line');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as OutputLine);
}

function assertOncePerId(lines: OutputLine[], customIds: string[]): void {
  assert.deepEqual(lines.map((l) => l.custom_id).sort(), [...customIds].sort());
}

describe('Collector (real Redis + BullMQ)', () => {
  let redis: Redis;
  let prefix: string;
  let dir: string;
  let run: string;
  let keys: RunKeys;
  let out: string;
  let queue: Queue<JobData>;
  const toClose: Collector[] = [];

  /** Registers the run, claims the custom_ids and returns their job ids. */
  async function setUpRun(customIds: string[]): Promise<string[]> {
    await new RunStore(redis, run, prefix).saveSettings(settingsFor(run, out));
    const ids = customIds.map((c) => jobIdFor(run, c));
    const claims = await claim(redis, keys, customIds.map((c, i) => ({ id: ids[i]!, source: `in.csv:${i + 2}` })));
    assert.ok(claims.every((c) => c.state === 'new'));
    return ids;
  }

  /** Delivers each custom_id's line the way a worker does; returns the exact texts. */
  async function deliverLines(customIds: string[], from = 0): Promise<Map<string, string>> {
    const texts = new Map(customIds.map((c, i) => [c, JSON.stringify(outputLine(run, c, from + i))]));
    const res = await deliver(redis, keys, customIds.map((c) => ({ id: jobIdFor(run, c), line: texts.get(c)! })));
    assert.ok(res.every(Boolean));
    return texts;
  }

  function collector(extra: Partial<ConstructorParameters<typeof Collector>[0]> = {}): Collector {
    const c = new Collector({ redis, queue, run, out, log: silentLogger, prefix, ...extra });
    toClose.push(c);
    return c;
  }

  before(async () => {
    redis = createRedis(REDIS_URL);
    prefix = testPrefix();
    dir = await mkdtemp(path.join(tmpdir(), 'respool-collector-'));
  });

  beforeEach(async () => {
    run = `run-${randomUUID().slice(0, 8)}`;
    keys = runKeys(run, prefix);
    out = path.join(dir, `${run}.jsonl`);
    queue = new Queue<JobData>(run, { connection: redis, prefix: bullPrefix(prefix) });
  });

  afterEach(async () => {
    for (const c of toClose.splice(0)) await c.close();
    await queue.close();
  });

  after(async () => {
    await deletePrefix(prefix, redis);
    assert.deepEqual(await keysUnder(prefix, redis), []);
    await redis.quit();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes exactly one line per delivered id, byte for byte, and empties the stream', T, async () => {
    const customIds = ['c1', 'c2', 'c3', 'c4', 'c5'];
    await setUpRun(customIds);
    const texts = await deliverLines(customIds);
    // A job that ran twice: its second delivery is dropped by the ledger.
    assert.deepEqual(await deliver(redis, keys, [{ id: jobIdFor(run, 'c3'), line: '{"late":true}' }]), [false]);

    const written: OutputLine[] = [];
    const c = collector({ batchSize: 2, onWritten: (lines) => written.push(...lines) });
    await c.start();
    assert.equal(c.path, path.resolve(out));
    assert.equal(await c.drainOnce(), 2, 'one batch of batchSize');
    assert.equal((await fileLines(out)).length, 2);
    assert.equal(await redis.xlen(keys.results), 3);

    assert.equal(await c.isComplete(), false, 'not complete before enqueueing is done');
    await new RunStore(redis, run, prefix).markEnqueueDone();
    assert.equal(await c.isComplete(), false, 'not complete while lines wait in the stream');
    assert.equal(await c.runUntilComplete(), 'complete');
    assert.equal(await c.isComplete(), true);

    const text = await readFile(out, 'utf8');
    assert.equal(text, customIds.map((id) => `${texts.get(id)}\n`).join(''), 'lines in stream order, exactly as delivered');
    assertOncePerId(await fileLines(out), customIds);
    assertOncePerId(written, customIds);
    assert.equal(await redis.xlen(keys.results), 0);
    assert.equal(await redis.exists(keys.writing), 0);
    assert.deepEqual(await ledgerCounts(redis, keys), { items: 5, written: 5 });
    assert.equal(await c.drainOnce(), 0, 'nothing left');
  });

  it('is not complete until every claimed item is written, even with enqueueing done', T, async () => {
    const customIds = ['a', 'b', 'c'];
    await setUpRun(customIds);
    await deliverLines(['a', 'b']);
    await new RunStore(redis, run, prefix).markEnqueueDone();
    const c = collector();
    await c.start();
    let polls = 0;
    const result = await c.runUntilComplete({ shouldStop: () => ++polls >= 3, idleMs: 5 });
    assert.equal(result, 'stopped');
    assert.equal(await c.isComplete(), false);
    assertOncePerId(await fileLines(out), ['a', 'b']);

    await deliverLines(['c'], 2);
    assert.equal(await c.runUntilComplete(), 'complete');
    assertOncePerId(await fileLines(out), customIds);
  });

  it('stops at once when the signal is already aborted', T, async () => {
    await setUpRun(['a']);
    await deliverLines(['a']);
    const c = collector();
    await c.start();
    assert.equal(await c.runUntilComplete({ signal: AbortSignal.abort() }), 'stopped');
    assert.equal(await redis.xlen(keys.results), 1, 'nothing was drained');
  });

  it('resumes an existing file: new lines go after the old ones', T, async () => {
    await setUpRun(['a', 'b']);
    await deliverLines(['a']);
    const first = collector();
    await first.start();
    await first.drainOnce();
    await first.close();

    await deliverLines(['b'], 1);
    await new RunStore(redis, run, prefix).markEnqueueDone();
    const second = collector();
    await second.start();
    assert.equal(await second.runUntilComplete(), 'complete');
    assert.deepEqual((await fileLines(out)).map((l) => l.custom_id), ['a', 'b']);
  });

  describe('crash recovery', () => {
    it('cuts back a batch that was written but not recorded, then writes every id exactly once', T, async () => {
      const customIds = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'];
      await setUpRun(customIds);
      await deliverLines(customIds.slice(0, 3));
      const before = collector();
      await before.start();
      assert.equal(await before.drainOnce(), 3);
      await before.close();
      const goodBytes = (await stat(out)).size;

      // The crashed collector: it saved its offset, appended two whole lines and half of a third, and
      // died before marking them written. Their lines are still in the stream.
      const texts = await deliverLines(customIds.slice(3), 3);
      await redis.set(keys.writing, JSON.stringify({ offset: goodBytes, path: path.resolve(out) }));
      const r6 = texts.get('r6')!;
      await appendFile(out, `${texts.get('r4')}\n${texts.get('r5')}\n${r6.slice(0, r6.length >> 1)}`);
      assert.ok((await stat(out)).size > goodBytes);

      const after = collector();
      await after.start();
      assert.equal((await stat(out)).size, goodBytes, 'cut back to the saved offset on start');
      assert.equal(await redis.exists(keys.writing), 0, 'the record of the unfinished batch is cleared');

      await new RunStore(redis, run, prefix).markEnqueueDone();
      assert.equal(await after.runUntilComplete(), 'complete');
      assertOncePerId(await fileLines(out), customIds);
      assert.equal(await redis.xlen(keys.results), 0);
      assert.deepEqual(await ledgerCounts(redis, keys), { items: 6, written: 6 });
    });

    it('a crash after marking but before removing from the stream writes nothing twice', T, async () => {
      const customIds = ['m1', 'm2', 'm3'];
      await setUpRun(customIds);
      const texts = await deliverLines(customIds);
      // Lines on disk and marked written, stream entries not yet deleted.
      await writeFile(out, customIds.map((c) => `${texts.get(c)}\n`).join(''));
      await markWritten(redis, keys, customIds.map((c) => jobIdFor(run, c)));
      assert.equal(await redis.xlen(keys.results), 3);

      const c = collector();
      await c.start();
      await new RunStore(redis, run, prefix).markEnqueueDone();
      assert.equal(await c.runUntilComplete(), 'complete');
      assertOncePerId(await fileLines(out), customIds);
      assert.equal(await redis.xlen(keys.results), 0);
      assert.deepEqual(await ledgerCounts(redis, keys), { items: 3, written: 3 });
    });

    it('drops a torn last line left without any record of a batch', T, async () => {
      await setUpRun(['t1', 't2']);
      const texts = await deliverLines(['t1', 't2']);
      await writeFile(out, texts.get('t1')!.slice(0, 10));
      const c = collector();
      await c.start();
      assert.equal((await stat(out)).size, 0);
      await new RunStore(redis, run, prefix).markEnqueueDone();
      assert.equal(await c.runUntilComplete(), 'complete');
      assertOncePerId(await fileLines(out), ['t1', 't2']);
    });

    it('leaves the file alone when the unfinished batch belonged to another file', T, async () => {
      await setUpRun(['o1']);
      await writeFile(out, 'whole line from before\n');
      await redis.set(keys.writing, JSON.stringify({ offset: 0, path: path.join(dir, 'some-other.jsonl') }));
      const c = collector();
      await c.start();
      assert.equal(await readFile(out, 'utf8'), 'whole line from before\n');
      assert.equal(await redis.exists(keys.writing), 0);
    });
  });

  describe('jobs BullMQ gave up on', () => {
    it('become one failed line each, are removed from the queue, and are not written twice', T, async () => {
      const customIds = ['f1', 'f2'];
      const ids = await setUpRun(customIds);
      const texts = await deliverLines(['f2'], 1); // f2 also delivered a real line before its job failed
      for (const [i, c] of customIds.entries()) {
        const data: JobData = { type: 'item', run, customId: c, source: { file: 'in.csv', line: i + 2 }, request: { kind: 'prompt', text: 'x', images: [] } };
        await queue.add('item', data, { jobId: ids[i], attempts: 1, removeOnFail: false });
      }
      const workerConn = createRedis(REDIS_URL);
      const worker = new Worker<JobData>(
        run,
        async () => {
          throw new Error('worker died too often');
        },
        { connection: workerConn, prefix: bullPrefix(prefix), autorun: false },
      );
      let failures = 0;
      const allFailed = new Promise<void>((resolve) => {
        worker.on('failed', () => {
          if (++failures === customIds.length) resolve();
        });
      });
      void worker.run();
      try {
        await allFailed;
      } finally {
        await worker.close();
        await workerConn.quit();
      }
      assert.equal(await queue.getFailedCount(), 2);

      const c = collector();
      await c.start();
      await new RunStore(redis, run, prefix).markEnqueueDone();
      assert.equal(await c.runUntilComplete(), 'complete');

      const lines = await fileLines(out);
      assertOncePerId(lines, customIds);
      const f1 = lines.find((l) => l.custom_id === 'f1')!;
      assert.equal(f1.status, 'failed');
      assert.equal(f1.error?.type, 'internal');
      assert.equal(f1.error?.message, 'worker died too often');
      assert.equal(f1.run, run);
      assert.deepEqual(f1.source, { file: 'in.csv', line: 2 });
      const f2Text = (await readFile(out, 'utf8')).split('\n').find((l) => l.includes('"custom_id":"f2"'));
      assert.equal(f2Text, texts.get('f2'), 'the delivered line wins over the failed job');
      assert.equal(await queue.getFailedCount(), 0, 'failed jobs are removed once written');
      assert.deepEqual(await ledgerCounts(redis, keys), { items: 2, written: 2 });
      assert.ok(await loadRun(redis, run, prefix));
    });
  });

  describe('one collector per run', () => {
    it('a second collector waits while the first holds the lock, and takes over once it closes', T, async () => {
      await setUpRun(['a']);
      const first = collector();
      await first.start();
      const held = await redis.get(keys.collectorLock);
      assert.ok(held?.startsWith(`${os.hostname()}:${process.pid}:`), `lock value ${held}`);

      const second = collector();
      let started = false;
      const starting = second.start().then(() => (started = true));
      await sleep(1200); // more than two of the second collector's lock attempts
      assert.equal(started, false, 'the second collector must not start while the first is open');
      assert.equal(await redis.get(keys.collectorLock), held);

      await first.close();
      await starting;
      const now = await redis.get(keys.collectorLock);
      assert.ok(now && now !== held, 'the lock now belongs to the second collector');
      await second.close();
      assert.equal(await redis.exists(keys.collectorLock), 0, 'close releases the lock');
    });

    it('gives up with CollectorBusyError once the lock wait is over', T, async (t) => {
      await setUpRun(['a']);
      const first = collector();
      await first.start();
      const second = collector();
      const realNow = Date.now.bind(Date);
      let skew = 0;
      t.mock.method(Date, 'now', () => realNow() + skew);
      const starting = second.start(); // its deadline is taken now
      skew = 60_000; // ... and time jumps past it
      await assert.rejects(starting, (err: Error) => {
        assert.ok(err instanceof CollectorBusyError);
        assert.match(err.message, new RegExp(`another collector is writing run ${run} \\(${os.hostname()} pid ${process.pid}\\)`));
        return true;
      });
      t.mock.restoreAll();
      assert.ok((await redis.get(keys.collectorLock))?.startsWith(`${os.hostname()}:${process.pid}:`), 'the first keeps its lock');
    });

    it('waits for a lock held by another machine until it expires', T, async () => {
      await setUpRun(['a']);
      const foreign = 'otherhost:1:x';
      await redis.set(keys.collectorLock, foreign, 'PX', 1500);
      const c = collector();
      let started = false;
      const starting = c.start().then(() => (started = true));
      // Whenever the foreign lock is still there, the collector must not have started.
      for (;;) {
        const startedBefore: boolean = started;
        const holder = await redis.get(keys.collectorLock);
        if (holder !== foreign) break;
        assert.equal(startedBefore, false, 'started while another host held the lock');
        await sleep(100);
      }
      await starting;
      assert.ok((await redis.get(keys.collectorLock))?.startsWith(`${os.hostname()}:${process.pid}:`));
    });

    it('takes over at once a lock left by a process of this machine that no longer exists', T, async () => {
      await setUpRun(['a']);
      const dead = spawnSync(process.execPath, ['-e', '']);
      assert.equal(dead.status, 0);
      const stale = `${os.hostname()}:${dead.pid}:stale`;
      await redis.set(keys.collectorLock, stale, 'PX', 120_000);
      const c = collector();
      // If the takeover did not happen, start() would wait for the lock (2 minutes) and the lock wait
      // would end in CollectorBusyError instead.
      await c.start();
      const now = await redis.get(keys.collectorLock);
      assert.notEqual(now, stale);
      assert.ok(now?.startsWith(`${os.hostname()}:${process.pid}:`));
    });

    it('close releases only its own lock', T, async () => {
      await setUpRun(['a']);
      const c = collector();
      await c.start();
      await redis.set(keys.collectorLock, 'otherhost:2:y', 'PX', 60_000);
      await c.close();
      assert.equal(await redis.get(keys.collectorLock), 'otherhost:2:y');
      await redis.del(keys.collectorLock);
    });
  });

  it('drainOnce before start fails clearly', T, async () => {
    const c = collector();
    await assert.rejects(c.drainOnce(), /collector not started/);
  });
});
