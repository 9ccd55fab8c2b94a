import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import path from 'node:path';
import type { FakeServer } from '../../src/fake-server/index.js';
import type { Job, OutputLine, Respool } from '../../src/index.js';
import { numberedIds, writePrompts } from '../helpers/prompts.js';
import { Redis } from 'ioredis';
import { assertEachIdOnce, REDIS_URL, testPrefix } from '../helpers/cli.js';
import { runJob, runOnWorkers, withLibrary, type LibrarySuite } from '../helpers/library.js';

/** Limits enforced by the fake server over real HTTP; respool is told them (or not) and must cope. */
describe('rate limits', () => {
  let suite: LibrarySuite;
  let fake: FakeServer;
  let rp: Respool;
  const prefix = testPrefix();
  let dir: string;

  withLibrary(prefix, (s) => ({ fake, dir, rp } = suite = s), { latencyMs: 20 });

  async function prompts(name: string, n: number, text = (i: number) => `item ${i}`): Promise<{ file: string; ids: string[] }> {
    const ids = numberedIds(`${name}-`, n);
    const file = path.join(dir, `${name}.in.jsonl`);
    await writePrompts(file, ids.map((id, i) => [id, text(i)]));
    return { file, ids };
  }

  function expectAllOnce(lines: OutputLine[], ids: string[]): void {
    assertEachIdOnce(lines, ids);
    assert.ok(lines.every((l) => l.status === 'completed'), JSON.stringify(lines.find((l) => l.status !== 'completed')));
  }

  /** Runs `job` to its end in this process; it must complete without a failed line. */
  async function runComplete(job: Job): Promise<OutputLine[]> {
    const { result, lines } = await runJob(rp, job);
    assert.equal(result.outcome, 'complete');
    assert.equal(result.failedLines, 0);
    return lines;
  }

  /** Runs `job` on two workers (each on its own connection, as two processes) and a collector; it must complete. */
  async function runOnTwoWorkers(job: Job, concurrency: number): Promise<{ lines: OutputLine[]; delivered: number[] }> {
    const { collected, lines, delivered } = await runOnWorkers(suite, prefix, job, { workers: 2, concurrency });
    assert.equal(collected.outcome, 'complete');
    assert.equal(collected.failedLines, 0);
    return { lines, delivered };
  }

  it('with the limit configured (rpm), the server never answers 429', async () => {
    // 600 rpm enforced over 2 s windows: at most 20 calls in any 2 s. (Windows much shorter than a
    // provider's minute leave less room for timing jitter between respool's clock and the server's.)
    fake.reset();
    fake.setOptions({ limits: { rpm: 600, windowMs: 2000 } });
    const { file, ids } = await prompts('rpm', 40);
    expectAllOnce(await runComplete({ name: 'rpm', inputs: file, model: 'm-rpm', base_url: fake.url, out: 'rpm.out.jsonl', concurrency: 20, rpm: 600 }), ids);
    const stats = fake.stats();
    assert.equal(stats.limited, 0, 'no 429');
    assert.ok(stats.windowPeak.requests <= 20, `peak ${stats.windowPeak.requests} calls in one window`);
  });

  it('with the token limit configured (tpm), long prompts never get a 429', async () => {
    fake.reset();
    // About 1,040 tokens per call at the fake server; 1,200,000 tpm over 5 s windows = 100,000 per
    // window, so the 150 calls (about 156,000 tokens) cannot all fit in one.
    fake.setOptions({ limits: { tpm: 1_200_000, windowMs: 5000 } });
    const { file, ids } = await prompts('tpm', 150, (i) => `${i} ${'lorem ipsum dolor sit amet '.repeat(150)}`);
    expectAllOnce(await runComplete({ name: 'tpm', inputs: file, model: 'm-tpm', base_url: fake.url, out: 'tpm.out.jsonl', concurrency: 20, tpm: 1_200_000, request: { max_output_tokens: 64 } }), ids);
    const stats = fake.stats();
    assert.equal(stats.limited, 0, `no 429 (peak ${stats.windowPeak.tokens} tokens in one window)`);
    assert.ok(stats.windowPeak.tokens <= 100_000, `peak ${stats.windowPeak.tokens} tokens in one window`);
  });

  it('two workers (as two processes) share one budget: together they stay within it', async () => {
    fake.reset();
    // 80 calls per 4 s window; 160 items cannot all fit in one.
    fake.setOptions({ limits: { rpm: 1200, windowMs: 4000 } });
    const { file, ids } = await prompts('shared', 160);
    const { lines, delivered } = await runOnTwoWorkers({ name: 'shared', inputs: file, model: 'm-shared', base_url: fake.url, out: 'shared.out.jsonl', rpm: 1200 }, 20);
    assert.ok(delivered.every((n) => n > 0), `both workers called the API: ${delivered.join(', ')}`);
    expectAllOnce(lines, ids);
    const stats = fake.stats();
    assert.equal(stats.limited, 0);
    assert.ok(stats.windowPeak.requests <= 80, `peak ${stats.windowPeak.requests} calls in one window (limit 80)`);

    const report = await rp.status('shared');
    assert.equal(report!.budgets.length, 1, 'one budget for one key and model');
    assert.equal(report!.budgets[0]!.rpm, 1200);
    assert.equal(report!.budgets[0]!.requests, 160);
  });

  it('a 429 that says nothing is left pauses every worker until Retry-After, and does not use an attempt', async () => {
    fake.reset();
    const retryAfterMs = 1000;
    fake.setOptions({ limits: undefined, faults: { failFirst: 1, failKinds: ['429'], retryAfterMs, exhausted429: true } });
    const { file, ids } = await prompts('pause', 12);
    const workers = 2;
    const concurrency = 2;
    // rpm keeps the adaptive mode out of this: the pause alone is under test.
    const { lines } = await runOnTwoWorkers({ name: 'pause', inputs: file, model: 'm-pause', base_url: fake.url, out: 'pause.out.jsonl', attempts: 1, rpm: 100000 }, concurrency).finally(() => fake.setOptions({ faults: {} }));
    // Every item ended completed with one attempt, although its first call was answered 429.
    expectAllOnce(lines, ids);
    for (const l of lines) {
      assert.equal(l.attempts, 1);
      assert.ok((l.rate_limited ?? 0) >= 1);
    }
    const stats = fake.stats();
    assert.equal(stats.byStatus['429'], ids.length, 'each item was refused once');
    assert.equal(stats.requests, 2 * ids.length, 'then answered at its second call');
    // The 429 paused the key itself, in Redis, where every worker of the key looks before each call
    // (a 429 that only made the refused call wait records no pause: see the sporadic test below).
    const budget = (await rp.status('pause'))!.budgets[0]!;
    assert.ok(budget.pauses >= 1, `pauses of the key: ${budget.pauses}`);
    assert.equal(budget.rateLimited, ids.length);
    // The pause starts when the first 429 is answered, so it lasts until at least the first arrival +
    // Retry-After: until then no call may start, from either worker. The only calls the server sees in
    // that time are the first one and those already started when it was answered: at most one per call
    // slot, however late a busy machine makes them arrive (a count, not how soon they come).
    const arrivals = stats.arrivals;
    const first = arrivals[0]!;
    const inPause = arrivals.filter((t) => t < first + retryAfterMs - 100);
    assert.ok(inPause.length <= workers * concurrency, `${inPause.length} calls during the pause, for ${workers * concurrency} call slots`);
  });

  it('sporadic 429s (10 %, Retry-After 1, no limit) pause no worker: only the refused call waits, without using an attempt', async () => {
    fake.reset();
    fake.setOptions({ limits: undefined, faults: { rate429: 0.1, retryAfterS: 1, seed: 11 } });
    const { file, ids } = await prompts('sporadic', 120);
    const { lines } = await runOnTwoWorkers({ name: 'sporadic', inputs: file, model: 'm-sporadic', base_url: fake.url, out: 'sporadic.out.jsonl' }, 4).finally(() => fake.setOptions({ faults: {} }));
    const answered429 = fake.stats().byStatus['429'] ?? 0;
    assert.ok(answered429 >= 3, `the server answered ${answered429} calls 429`);

    // Every item has exactly one line, completed on its first attempt; every 429 is on some line.
    expectAllOnce(lines, ids);
    assert.deepEqual(
      lines.filter((l) => l.attempts !== 1).map((l) => l.custom_id),
      [],
      'items whose 429s used an attempt',
    );
    assert.equal(
      lines.reduce((n, l) => n + (l.rate_limited ?? 0), 0),
      answered429,
    );

    // The key was never paused for the other calls: no pause was recorded, none was ever set.
    const budget = (await rp.status('sporadic'))!.budgets[0]!;
    const redis = new Redis(REDIS_URL);
    try {
      assert.equal(await redis.hget(`${prefix}:budget:${budget.key}`, 'pause_until'), null, 'a pause was set on the key');
    } finally {
      redis.disconnect();
    }
    assert.equal(budget.pauses, 0, 'pauses of the key');
    assert.equal(budget.rateLimited, answered429, 'every 429 counted by the budget');
  });

  it('with no limit configured, respool learns the server limit from 429s', async () => {
    fake.reset();
    fake.setOptions({ faults: {}, limits: { rpm: 1200, windowMs: 1000 } });
    const { file, ids } = await prompts('adaptive', 150);
    expectAllOnce(await runComplete({ name: 'adaptive', inputs: file, model: 'm2', base_url: fake.url, out: 'adaptive.out.jsonl', concurrency: 30 }), ids);
    const stats = fake.stats();
    assert.ok(stats.windowPeak.requests <= 20);
    // Some 429s teach the limit; far fewer than the calls.
    assert.ok(stats.limited <= stats.admitted * 0.2, `${stats.limited} 429s for ${stats.admitted} calls`);
    fake.setOptions({ limits: undefined });
  });
});
