import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import type { FakeServer } from '../../src/fake-server/index.js';
import { createRng } from '../../src/fake-server/faults.js';
import { jobIdFor } from '../../src/queue/keys.js';
import { sleep } from '../../src/core/sleep.js';
import { numberedIds, writePrompts } from '../helpers/prompts.js';
import { assertEachIdOnce, lineCount, readLines, runCli, testPrefix, waitFor } from '../helpers/cli.js';
import { withOwnRedis, type OwnRedis } from '../helpers/own-redis.js';

/**
 * Workers, a collector and the producer as separate `respool` processes against a redis-server of
 * this test's own (AOF on), which the test restarts; workers are SIGKILLed at seeded random moments.
 */

// Short locks so that the jobs of a killed worker come back within seconds; not so short that a live
// worker on a busy machine loses its locks (its items would then be paid twice without any kill).
const FAST = { RESPOOL_LOCK_DURATION_MS: '3000', RESPOOL_STALLED_INTERVAL_MS: '1500', OPENRESPONSES_API_KEY: 'sk-chaos-test' };
const CONCURRENCY = 6;

describe('chaos: worker kills, collector and Redis restarts', { timeout: 300_000 }, () => {
  let redis: OwnRedis;
  let fake: FakeServer;
  let dir: string;
  const prefix = testPrefix();
  const suite = withOwnRedis(prefix, FAST, { latencyMs: 250 });
  before(() => ({ redis, fake, dir } = suite));
  const { env, start } = suite;

  it('every custom_id exactly once, no torn line, duplicate calls bounded by concurrency x kills', async (t) => {
    const ids = numberedIds('chaos-', 800);
    const input = path.join(dir, 'chaos.in.jsonl');
    const out = path.join(dir, 'chaos.out.jsonl');
    await writePrompts(input, ids.map((id) => [id, `about ${id}`]));
    const enqueued = await runCli(['--prefix', prefix, 'enqueue', '--name', 'chaos', '--input', input, '--model', 'm', '--base-url', fake.url, '--out', out], { env: env() });
    assert.equal(enqueued.code, 0, enqueued.stderr);

    const worker = () => start(['worker', '--name', 'chaos', '--concurrency', String(CONCURRENCY), '--grace', '1']);
    const workers = [worker(), worker(), worker()];
    let collector = start(['collect', '--name', 'chaos']);

    const rng = createRng(20261201);
    const plan = ['kill-worker', 'kill-worker', 'restart-collector', 'kill-worker', 'restart-redis', 'kill-worker', 'kill-worker'];
    const happened: string[] = [];
    let kills = 0;
    let mark = 0;
    for (const step of plan) {
      // Each fault hits a run that is making progress: some new lines, then a random moment.
      await waitFor(async () => (await lineCount(out)) >= mark + 40, 30_000, `${mark + 40} lines`);
      await sleep(100 + Math.floor(rng() * 700));
      mark = await lineCount(out);
      if (mark >= ids.length) break; // the run is already complete
      if (step === 'kill-worker') {
        const i = Math.floor(rng() * workers.length);
        const killed = await workers[i]!.kill('SIGKILL');
        assert.equal(killed.signal, 'SIGKILL');
        kills++;
        workers[i] = worker();
      } else if (step === 'restart-collector') {
        await collector.kill('SIGKILL');
        collector = start(['collect', '--name', 'chaos']);
      } else {
        await redis.stop();
        await redis.start();
      }
      happened.push(`${step}@${mark}`);
    }
    assert.ok(happened.length === plan.length, `every fault hit the run while it was going: ${happened.join(', ')}`);

    const collected = await collector.done;
    assert.equal(collected.code, 0, collected.stderr);
    // Workers that were never killed survived the Redis restart and stop cleanly.
    const stopped = await Promise.all(workers.map((w) => w.kill('SIGTERM')));
    for (const r of stopped) assert.equal(r.code, 0, r.stderr);

    const lines = await readLines(out); // throws on a torn line
    assertEachIdOnce(lines, ids);
    assert.ok(lines.every((l) => l.status === 'completed'), 'every item completed');
    const calls = Object.values(fake.stats().byKey);
    const extra = calls.reduce((sum, n) => sum + (n - 1), 0);
    assert.equal(calls.length, ids.length, 'every item was called');
    t.diagnostic(`faults (step@lines written): ${happened.join(', ')}; duplicate calls: ${extra}; bound ${CONCURRENCY * kills}`);
    assert.ok(extra <= CONCURRENCY * kills, `duplicate calls ${extra} > ${CONCURRENCY} x ${kills} kills (${happened.join(', ')})`);
  });

  it('enqueue repeated while workers drain the run, then retry and run at once: no item is paid twice', async (t) => {
    fake.reset();
    fake.setOptions({ latencyMs: 100, faults: { rate500: 0.1, seed: 11 } });
    const ids = numberedIds('again-', 1200);
    const input = path.join(dir, 'again.in.jsonl');
    const out = path.join(dir, 'again.out.jsonl');
    await writePrompts(input, ids.map((id) => [id, `about ${id}`]));
    const job = ['--name', 'again', '--input', input, '--model', 'm', '--base-url', fake.url, '--out', out, '--attempts', '1'];
    const enqueue = () => runCli(['--prefix', prefix, 'enqueue', ...job], { env: env() });
    assert.equal((await enqueue()).code, 0);
    const workers = [start(['worker', '--name', 'again', '-c', '40']), start(['worker', '--name', 'again', '-c', '40'])];
    const collector = start(['collect', '--name', 'again']);
    // The same job enqueued again and again while its items are being called and delivered.
    for (let i = 0; i < 4; i++) {
      await sleep(1000);
      const r = await enqueue();
      assert.equal(r.code, 0, r.stderr);
    }
    await collector.done;
    const first = await readLines(out);
    assertEachIdOnce(first, ids);
    const calls = () => fake.stats().byKey;
    const twice = (byKey: Record<string, number>, expected: (id: string) => number) => Object.entries(byKey).filter(([id, n]) => n > expected(id)).length;
    assert.equal(twice(calls(), () => 1), 0, 'an item was paid twice while the run was enqueued again');
    const failed = new Set(first.filter((l) => l.status === 'failed').map((l) => jobIdFor('again', l.custom_id)));
    assert.ok(failed.size > 50, `failed items: ${failed.size}`);

    // Failed items queued again, and the same run started at once, while the workers drain them.
    fake.setOptions({ faults: {} });
    const retried = await runCli(['--prefix', prefix, 'retry', '--name', 'again'], { env: env() });
    assert.equal(retried.code, 0, retried.stderr);
    const rerun = await runCli(['--prefix', prefix, 'run', ...job, '--concurrency', '20'], { env: env(), killAfterMs: 60_000 });
    assert.equal(rerun.code, 0, rerun.stderr);
    for (const w of workers) await w.kill('SIGTERM');
    const lines = await readLines(out);
    assertEachIdOnce(lines, ids);
    assert.ok(lines.every((l) => l.status === 'completed'));
    const paidTwice = twice(calls(), (id) => (failed.has(id) ? 2 : 1));
    t.diagnostic(`failed then retried: ${failed.size}; paid more than needed: ${paidTwice}`);
    assert.equal(paidTwice, 0, 'an item was paid twice by the retry and the run');
  });
});
