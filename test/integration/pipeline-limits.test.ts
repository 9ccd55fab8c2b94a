import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import path from 'node:path';
import type { FakeServer } from '../../src/fake-server/index.js';
import { numberedIds, writePrompts } from '../helpers/prompts.js';
import { Redis } from 'ioredis';
import { assertEachIdOnce, finished, readLines, REDIS_URL, runCli, spawnCli, testPrefix } from '../helpers/cli.js';
import { withFakeServer } from '../helpers/fake-suite.js';

/** Limits enforced by the fake server over real HTTP; respool is told them (or not) and must cope. */
describe('rate limits', () => {
  let fake: FakeServer;
  const prefix = testPrefix();
  let dir: string;
  const KEY = 'sk-limits-test-1234';

  withFakeServer(prefix, (s) => ({ fake, dir } = s), { latencyMs: 20 });

  async function prompts(name: string, n: number, text = (i: number) => `item ${i}`): Promise<{ file: string; ids: string[] }> {
    const ids = numberedIds(`${name}-`, n);
    const file = path.join(dir, `${name}.in.jsonl`);
    await writePrompts(file, ids.map((id, i) => [id, text(i)]));
    return { file, ids };
  }

  async function expectAllOnce(out: string, ids: string[]): Promise<void> {
    const lines = await readLines(out);
    assertEachIdOnce(lines, ids);
    assert.ok(lines.every((l) => l.status === 'completed'), JSON.stringify(lines.find((l) => l.status !== 'completed')));
  }

  it('with the limit configured (rpm), the server never answers 429', async () => {
    // 600 rpm enforced over 2 s windows: at most 20 calls in any 2 s. (Windows much shorter than a
    // provider's minute leave less room for timing jitter between respool's clock and the server's.)
    fake.reset();
    fake.setOptions({ limits: { rpm: 600, windowMs: 2000 } });
    const { file, ids } = await prompts('rpm', 40);
    const out = path.join(dir, 'rpm.out.jsonl');
    const res = await runCli(['--prefix', prefix, 'run', '--name', 'rpm', '--input', file, '--model', 'm-rpm', '--base-url', fake.url, '--out', out, '--concurrency', '20', '--rpm', '600'], { env: { OPENRESPONSES_API_KEY: KEY } });
    assert.equal(res.code, 0, res.stderr);
    await expectAllOnce(out, ids);
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
    const out = path.join(dir, 'tpm.out.jsonl');
    const res = await runCli(
      ['--prefix', prefix, 'run', '--name', 'tpm', '--input', file, '--model', 'm-tpm', '--base-url', fake.url, '--out', out, '--concurrency', '20', '--tpm', '1200000', '--max-output-tokens', '64'],
      { env: { OPENRESPONSES_API_KEY: KEY } },
    );
    assert.equal(res.code, 0, res.stderr);
    await expectAllOnce(out, ids);
    const stats = fake.stats();
    assert.equal(stats.limited, 0, `no 429 (peak ${stats.windowPeak.tokens} tokens in one window)`);
    assert.ok(stats.windowPeak.tokens <= 100_000, `peak ${stats.windowPeak.tokens} tokens in one window`);
  });

  it('two worker processes share one budget: together they stay within it', async () => {
    fake.reset();
    // 80 calls per 4 s window; 160 items cannot all fit in one.
    fake.setOptions({ limits: { rpm: 1200, windowMs: 4000 } });
    const { file, ids } = await prompts('shared', 160);
    const out = path.join(dir, 'shared.out.jsonl');
    const common = ['--prefix', prefix];
    const env = { OPENRESPONSES_API_KEY: KEY };
    const collector = finished(spawnCli([...common, 'collect', '--name', 'shared', '--out', out], { env }));
    const workers = [0, 1].map(() => spawnCli([...common, 'worker', '--name', 'shared', '--concurrency', '20'], { env }));
    const workersDone = workers.map((w) => finished(w));
    const enq = await runCli([...common, 'enqueue', '--name', 'shared', '--input', file, '--model', 'm-shared', '--base-url', fake.url, '--out', out, '--rpm', '1200'], { env });
    assert.equal(enq.code, 0, enq.stderr);
    assert.equal((await collector).code, 0);
    for (const w of workers) w.kill('SIGTERM');
    const delivered = (await Promise.all(workersDone)).map((r) => Number(/delivered (\d+) lines/.exec(r.stderr)?.[1] ?? -1));
    assert.ok(delivered.every((n) => n > 0), `both workers called the API: ${delivered.join(', ')}`);
    await expectAllOnce(out, ids);
    const stats = fake.stats();
    assert.equal(stats.limited, 0);
    assert.ok(stats.windowPeak.requests <= 80, `peak ${stats.windowPeak.requests} calls in one window (limit 80)`);

    const status = await runCli([...common, 'status', '--name', 'shared', '--json'], { env });
    const [report] = JSON.parse(status.stdout) as Array<{ budgets: Array<{ rpm: number | null; requests: number }> }>;
    assert.equal(report!.budgets.length, 1, 'one budget for one key and model');
    assert.equal(report!.budgets[0]!.rpm, 1200);
    assert.equal(report!.budgets[0]!.requests, 160);
  });

  it('a 429 that says nothing is left pauses every worker until Retry-After, and does not use an attempt', async () => {
    fake.reset();
    fake.setOptions({ limits: undefined, faults: { failFirst: 1, failKinds: ['429'], retryAfterMs: 1000, exhausted429: true } });
    const { file, ids } = await prompts('pause', 12);
    const out = path.join(dir, 'pause.out.jsonl');
    const common = ['--prefix', prefix];
    const env = { OPENRESPONSES_API_KEY: KEY };
    const collector = finished(spawnCli([...common, 'collect', '--name', 'pause', '--out', out], { env }));
    const workers = [0, 1].map(() => spawnCli([...common, 'worker', '--name', 'pause', '--concurrency', '2'], { env }));
    const workersDone = workers.map((w) => finished(w));
    // --rpm keeps the adaptive mode out of this: the pause alone is under test.
    const enq = await runCli([...common, 'enqueue', '--name', 'pause', '--input', file, '--model', 'm-pause', '--base-url', fake.url, '--out', out, '--attempts', '1', '--rpm', '100000'], { env });
    assert.equal(enq.code, 0, enq.stderr);
    assert.equal((await collector).code, 0);
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workersDone);
    fake.setOptions({ faults: {} });
    // Every item ended completed with one attempt, although its first call was answered 429.
    await expectAllOnce(out, ids);
    for (const l of await readLines(out)) {
      assert.equal(l.attempts, 1);
      assert.ok((l.rate_limited ?? 0) >= 1);
    }
    // After the first 429, no call at all (from either process) until its Retry-After had passed,
    // apart from calls already on their way when it was answered.
    const arrivals = fake.stats().arrivals;
    const first = arrivals[0]!;
    const during = arrivals.filter((t) => t > first + 150 && t < first + 900);
    assert.deepEqual(during, [], 'calls during the pause');
  });

  it('sporadic 429s (10 %, Retry-After 1, no limit) pause no worker: only the refused call waits, without using an attempt', async () => {
    fake.reset();
    fake.setOptions({ limits: undefined, faults: { rate429: 0.1, retryAfterS: 1, seed: 11 } });
    const { file, ids } = await prompts('sporadic', 120);
    const out = path.join(dir, 'sporadic.out.jsonl');
    const common = ['--prefix', prefix];
    const env = { OPENRESPONSES_API_KEY: KEY };
    const collector = finished(spawnCli([...common, 'collect', '--name', 'sporadic', '--out', out], { env }));
    const workers = [0, 1].map(() => spawnCli([...common, 'worker', '--name', 'sporadic', '--concurrency', '4'], { env }));
    const workersDone = workers.map((w) => finished(w));
    const enq = await runCli([...common, 'enqueue', '--name', 'sporadic', '--input', file, '--model', 'm-sporadic', '--base-url', fake.url, '--out', out], { env });
    assert.equal(enq.code, 0, enq.stderr);
    assert.equal((await collector).code, 0);
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workersDone);
    const answered429 = fake.stats().byStatus['429'] ?? 0;
    fake.setOptions({ faults: {} });
    assert.ok(answered429 >= 3, `the server answered ${answered429} calls 429`);

    // Every item has exactly one line, completed on its first attempt; every 429 is on some line.
    await expectAllOnce(out, ids);
    const lines = await readLines(out);
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
    const status = await runCli([...common, 'status', '--name', 'sporadic', '--json'], { env });
    const [report] = JSON.parse(status.stdout) as Array<{ budgets: Array<{ key: string; rateLimited: number; pauses: number }> }>;
    const budget = report!.budgets[0]!;
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
    const out = path.join(dir, 'adaptive.out.jsonl');
    const res = await runCli(['--prefix', prefix, 'run', '--name', 'adaptive', '--input', file, '--model', 'm2', '--base-url', fake.url, '--out', out, '--concurrency', '30'], { env: { OPENRESPONSES_API_KEY: KEY } });
    assert.equal(res.code, 0, res.stderr);
    await expectAllOnce(out, ids);
    const stats = fake.stats();
    assert.ok(stats.windowPeak.requests <= 20);
    // Some 429s teach the limit; far fewer than the calls.
    assert.ok(stats.limited <= stats.admitted * 0.2, `${stats.limited} 429s for ${stats.admitted} calls`);
    fake.setOptions({ limits: undefined });
  });
});
