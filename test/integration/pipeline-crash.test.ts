import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import path from 'node:path';
import type { FakeServer } from '../../src/fake-server/index.js';
import { numberedIds, writePrompts } from '../helpers/prompts.js';
import { assertEachIdOnce, countIds, finished, lineCount, readLines, runCli, spawnCli, testPrefix, waitFor } from '../helpers/cli.js';
import { withFakeServer } from '../helpers/fake-suite.js';

// Short locks so that the jobs of a killed process come back within seconds, not a minute.
const FAST_RECOVERY = { RESPOOL_LOCK_DURATION_MS: '2000', RESPOOL_STALLED_INTERVAL_MS: '1000', OPENRESPONSES_API_KEY: 'sk-crash-test' };

describe('crashes and several processes', () => {
  let fake: FakeServer;
  const prefix = testPrefix();
  let dir: string;

  withFakeServer(prefix, (s) => ({ fake, dir } = s), { latencyMs: 100 });

  async function prompts(name: string, n: number): Promise<string[]> {
    const ids = numberedIds(`${name}-`, n);
    await writePrompts(path.join(dir, `${name}.in.jsonl`), ids.map((id) => [id, `about ${id}`]));
    return ids;
  }

  it('a run SIGKILLed mid-way and started again ends with every custom_id exactly once', async () => {
    const ids = await prompts('crash', 300);
    const out = path.join(dir, 'crash.out.jsonl');
    const args = ['--prefix', prefix, 'run', '--name', 'crash', '--input', path.join(dir, 'crash.in.jsonl'), '--model', 'm', '--base-url', fake.url, '--out', out, '--concurrency', '10'];
    fake.reset();
    const first = spawnCli(args, { env: FAST_RECOVERY });
    const firstDone = finished(first);
    await waitFor(async () => (await lineCount(out)) >= 60, 60_000, '60 lines before the kill');
    first.kill('SIGKILL');
    const killed = await firstDone;
    assert.equal(killed.signal, 'SIGKILL');
    const before = await lineCount(out);
    assert.ok(before < ids.length, 'killed before the end');

    const second = await runCli(args, { env: FAST_RECOVERY });
    assert.equal(second.code, 0, second.stderr);
    const lines = await readLines(out);
    assertEachIdOnce(lines, ids);
    assert.ok(lines.every((l) => l.status === 'completed'));
    // Paid twice at most for the calls that were in flight when the process died (concurrency 10).
    const calls = Object.values(fake.stats().byKey);
    const extra = calls.reduce((sum, n) => sum + (n - 1), 0);
    assert.ok(extra <= 10, `duplicate calls: ${extra}`);
    assert.equal(fake.stats().requests, ids.length + extra);
  });

  it('the same run started twice at once: the second changes nothing and fails; the first finishes with every custom_id once', async () => {
    // At 2 calls of 100 ms at once, ~50 s of work. `run` queues more as its workers take jobs, so the
    // whole input is read about halfway through; the second copy then waits 16 s for the lock and
    // gives up while the first is still writing.
    const ids = await prompts('twice', 1000);
    const out = path.join(dir, 'twice.out.jsonl');
    const args = ['--prefix', prefix, 'run', '--name', 'twice', '--input', path.join(dir, 'twice.in.jsonl'), '--model', 'm', '--base-url', fake.url, '--out', out, '--concurrency', '2'];
    fake.reset();
    const first = spawnCli(args, { env: FAST_RECOVERY });
    const firstDone = finished(first);
    await waitFor(async () => (await lineCount(out)) >= 4, 60_000, 'the first run writing');
    // The first has read its whole input by now; a second copy must not mark it unread again.
    await waitFor(async () => {
      const res = await runCli(['--prefix', prefix, 'status', '--name', 'twice', '--json']);
      return res.code === 0 && (JSON.parse(res.stdout) as Array<{ items: number }>)[0]?.items === ids.length;
    }, 45_000, 'every item enqueued');

    const second = await runCli(args, { env: FAST_RECOVERY });
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, /another collector \([^)]+\) is writing it; waiting up to 16 s/);
    assert.match(second.stderr, /another collector is writing run twice \(\S+ pid \d+\); stop it first/);
    const res = await firstDone;
    assert.equal(res.code, 0, res.stderr);
    assertEachIdOnce(await readLines(out), ids);
    assert.equal(fake.stats().requests, ids.length, 'the second run made no call');
  });

  it('two worker processes and one collector finish one run together', async () => {
    const ids = await prompts('dist', 200);
    const out = path.join(dir, 'dist.out.jsonl');
    fake.reset();
    const common = ['--prefix', prefix];
    const collector = spawnCli([...common, 'collect', '--name', 'dist', '--out', out], { env: FAST_RECOVERY });
    const collectorDone = finished(collector);
    const workers = [0, 1].map(() => spawnCli([...common, 'worker', '--name', 'dist', '--concurrency', '5'], { env: FAST_RECOVERY }));
    const workersDone = workers.map((w) => finished(w));
    const enqueue = await runCli([...common, 'enqueue', '--name', 'dist', '--input', path.join(dir, 'dist.in.jsonl'), '--model', 'm', '--base-url', fake.url, '--out', out]);
    assert.equal(enqueue.code, 0, enqueue.stderr);
    assert.equal(enqueue.stdout.trim(), 'dist');

    const collected = await collectorDone;
    assert.equal(collected.code, 0, collected.stderr);
    for (const w of workers) w.kill('SIGTERM');
    const results = await Promise.all(workersDone);
    const delivered = results.map((r) => {
      assert.equal(r.code, 0, r.stderr);
      const m = /delivered (\d+) lines/.exec(r.stderr);
      assert.ok(m, r.stderr);
      return Number(m[1]);
    });
    assert.ok(delivered.every((n) => n > 0), `both workers did work: ${delivered.join(', ')}`);
    assert.equal(delivered[0]! + delivered[1]!, ids.length);
    const lines = await readLines(out);
    const counts = countIds(lines);
    assert.equal(counts.size, ids.length);
    assert.ok([...counts.values()].every((n) => n === 1));

    const status = await runCli([...common, 'status', '--name', 'dist', '--json']);
    assert.equal(status.code, 0, status.stderr);
    const [report] = JSON.parse(status.stdout) as Array<{ items: number; written: number; enqueue_done: boolean }>;
    assert.deepEqual({ items: report!.items, written: report!.written, done: report!.enqueue_done }, { items: 200, written: 200, done: true });
  });
});
