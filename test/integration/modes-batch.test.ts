import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FakeServer } from '../../src/fake-server/index.js';
import { jobIdFor } from '../../src/queue/keys.js';
import { countIds, readLines, REDIS_URL, runCli, testPrefix } from '../helpers/cli.js';
import { withFakeServer } from '../helpers/fake-suite.js';
import { readSpend } from '../../src/queue/cost-cap.js';
import { Redis } from 'ioredis';
import { after } from 'node:test';

async function promptsFile(dir: string, name: string, ids: string[]): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, ids.map((id) => JSON.stringify({ custom_id: id, prompt: `question ${id}` })).join('\n') + '\n');
  return file;
}

/** Each item was billed once over online and batch answers together (the fake server counts both by job id). */
function assertBilledOnce(fake: FakeServer, run: string, ids: string[]): void {
  const billed = fake.stats().billed;
  for (const id of ids) assert.equal(billed[jobIdFor(run, id)], 1, `${id} billed ${billed[jobIdFor(run, id)] ?? 0} times`);
}

describe('respool run --mode batch', () => {
  let fake: FakeServer;
  const prefix = testPrefix();
  let dir: string;
  withFakeServer(prefix, (s) => ({ fake, dir } = s));
  const redis = new Redis(REDIS_URL);
  after(() => redis.quit());

  const run = (name: string, input: string, extra: string[] = []) =>
    runCli([
      '--prefix', prefix, 'run', '--name', name, '--input', input, '--model', 'gpt-4o-mini', '--base-url', fake.url,
      '--out', path.join(dir, `${name}.jsonl`), '--mode', 'batch', '--batch-poll-ms', '50', ...extra,
    ], { env: { OPENRESPONSES_API_KEY: 'sk-test-batch' } });

  it('sends every item through provider batches and writes one line per item, tier batch', async () => {
    const ids = Array.from({ length: 25 }, (_, i) => `b${i}`);
    const input = await promptsFile(dir, 'in-batch.jsonl', ids);
    fake.reset();
    const res = await run('batch-e2e', input, ['--batch-max-requests', '10']);
    assert.equal(res.code, 0, res.stderr);
    const lines = await readLines(path.join(dir, 'batch-e2e.jsonl'));
    assert.deepEqual([...countIds(lines).keys()].sort(), [...ids].sort());
    assert.ok([...countIds(lines).values()].every((n) => n === 1));
    for (const l of lines) {
      assert.equal(l.status, 'completed', JSON.stringify(l));
      assert.equal(l.service_tier, 'batch');
      assert.ok(l.output_text, 'the answer is on the line');
      assert.ok(l.cost, 'the line is priced');
    }
    const stats = fake.stats();
    assert.equal(stats.requests, 0, 'no online call');
    assert.equal(stats.batch.batchesCreated, 3, '25 items in files of at most 10');
    for (const id of ids) assert.equal(stats.batch.submitted[jobIdFor('batch-e2e', id)], 1, `${id} submitted once`);
    assertBilledOnce(fake, 'batch-e2e', ids);
  });

  it('a batch that expires half-done: the rest goes into a new batch, each item billed once', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `e${i}`);
    const input = await promptsFile(dir, 'in-expire.jsonl', ids);
    fake.reset();
    fake.setOptions({ batch: { expireAfter: 0.5 } });
    const running = run('batch-expire', input);
    // Only the first batch expires: a batch takes the options in force when it is created.
    while (fake.stats().batch.batchesCreated === 0) await sleep(20);
    fake.setOptions({ batch: {} });
    const res = await running;
    fake.setOptions({ batch: {} });
    assert.equal(res.code, 0, res.stderr);
    const lines = await readLines(path.join(dir, 'batch-expire.jsonl'));
    const counts = countIds(lines);
    assert.equal(counts.size, ids.length);
    assert.ok([...counts.values()].every((n) => n === 1));
    assert.ok(lines.every((l) => l.status === 'completed'), JSON.stringify(lines.filter((l) => l.status !== 'completed')));
    const stats = fake.stats();
    assert.ok(stats.batch.batchesCreated >= 2, `the expired batch's rest went into another batch (${stats.batch.batchesCreated} created)`);
    assert.ok((stats.batch.byStatus.expired ?? 0) >= 1, JSON.stringify(stats.batch.byStatus));
    assertBilledOnce(fake, 'batch-expire', ids);
  });

  it('an API without batches stops the run with exit code 8 and a message naming the modes to use; --mode online then finishes it', async () => {
    const ids = Array.from({ length: 8 }, (_, i) => `n${i}`);
    const input = await promptsFile(dir, 'in-nobatch.jsonl', ids);
    fake.reset();
    fake.setOptions({ batch: { absent: true } });
    const res = await run('no-batch', input);
    assert.equal(res.code, 8, res.stderr);
    assert.match(res.stderr, /no Batch API/);
    assert.match(res.stderr, /--mode online/);
    fake.setOptions({ batch: {} });
    const again = await run('no-batch', input, ['--mode', 'online']);
    assert.equal(again.code, 0, again.stderr);
    const lines = await readLines(path.join(dir, 'no-batch.jsonl'));
    assert.deepEqual([...countIds(lines).keys()].sort(), [...ids].sort());
    assert.ok([...countIds(lines).values()].every((n) => n === 1));
    assert.ok(lines.every((l) => l.status === 'completed' && l.service_tier === 'default'));
    assertBilledOnce(fake, 'no-batch', ids);
  });

  it('auto with a deadline too short for the batch: switches to online calls, cancels the batch and finishes in time', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `a${i}`);
    const input = await promptsFile(dir, 'in-auto.jsonl', ids);
    fake.reset();
    // A batch that would take 20 x 100 s: only a switch can make the deadline.
    fake.setOptions({ batch: { msPerRequest: 100_000 } });
    // 30 s: the run starts with a batch, and switches about halfway (see src/batch/deadline-plan.ts).
    const deadlineAt = Date.now() + 30_000;
    const res = await runCli([
      '--prefix', prefix, 'run', '--name', 'auto-deadline', '--input', input, '--model', 'gpt-4o-mini', '--base-url', fake.url,
      '--out', path.join(dir, 'auto-deadline.jsonl'), '--mode', 'auto', '--deadline', new Date(deadlineAt).toISOString(),
      '--batch-poll-ms', '200', '--concurrency', '4',
    ], { env: { OPENRESPONSES_API_KEY: 'sk-test-batch' } });
    fake.setOptions({ batch: {} });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /switching from batch to (flex|the standard tier) to meet the deadline/);
    assert.match(res.stderr, /cancelled provider batch/);
    const lines = await readLines(path.join(dir, 'auto-deadline.jsonl'));
    assert.deepEqual([...countIds(lines).keys()].sort(), [...ids].sort());
    assert.ok([...countIds(lines).values()].every((n) => n === 1));
    assert.ok(lines.every((l) => l.status === 'completed' && l.service_tier !== 'batch'), 'every item answered online');
    assert.ok(lines.every((l) => Date.parse(l.finished_at) <= deadlineAt), 'every line before the deadline');
    // A switch to flex sends flex calls (the fake server answers them as flex).
    if (/switching from batch to flex/.test(res.stderr)) assert.ok(lines.some((l) => l.service_tier === 'flex'), `flex lines after the switch to flex: ${res.stderr.split('\n').filter((l) => /switch/.test(l)).join(' / ')} tiers ${lines.map((l) => l.service_tier).join(',')}`);
    const stats = fake.stats();
    assert.equal(stats.batch.batchesCreated, 1, 'the run started with a batch');
    assertBilledOnce(fake, 'auto-deadline', ids);
  });

  it('cancel: the provider batch is cancelled, what it finished is kept, the rest ends as cancelled lines', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `c${i}`);
    const input = await promptsFile(dir, 'in-cancel.jsonl', ids);
    fake.reset();
    // 20 requests of 500 ms: cancelled while in flight, with some done.
    fake.setOptions({ batch: { msPerRequest: 500 } });
    const running = run('batch-cancel', input);
    while ((fake.stats().batch.byStatus.in_progress ?? 0) === 0) await sleep(20);
    while ((fake.stats().billed && Object.keys(fake.stats().billed).length) < 2) await sleep(20);
    const cancel = await runCli(['--prefix', prefix, 'cancel', '--name', 'batch-cancel', '--wait', '1']);
    assert.equal(cancel.code, 0, cancel.stderr);
    const res = await running;
    fake.setOptions({ batch: {} });
    assert.equal(res.code, 5, `a cancelled run has failed lines: ${res.stderr}`);
    assert.match(res.stderr, /cancelled provider batch/);
    const lines = await readLines(path.join(dir, 'batch-cancel.jsonl'));
    assert.deepEqual([...countIds(lines).keys()].sort(), [...ids].sort());
    assert.ok([...countIds(lines).values()].every((n) => n === 1));
    const done = lines.filter((l) => l.status === 'completed');
    const cancelled = lines.filter((l) => l.error?.type === 'cancelled');
    assert.ok(done.length > 0 && done.every((l) => l.service_tier === 'batch'), `the batch's finished answers are kept (${done.length})`);
    assert.ok(cancelled.length > 0, 'the rest ends as cancelled');
    assert.equal(done.length + cancelled.length, ids.length);
    const stats = fake.stats();
    assert.equal(stats.requests, 0, 'no online call after the cancel');
    for (const l of done) assert.equal(stats.billed[jobIdFor('batch-cancel', l.custom_id)], 1);
  });

  it('max_cost: a batch reserves its cost before it is submitted and settles on return; past the cap, items are skipped', async () => {
    const ids = Array.from({ length: 6 }, (_, i) => `m${i}`);
    const input = await promptsFile(dir, 'in-cost.jsonl', ids);
    fake.reset();
    const fits = await run('batch-cost', input, ['--max-cost', '5']);
    assert.equal(fits.code, 0, fits.stderr);
    const spend = await readSpend(redis, 'batch-cost', prefix);
    assert.ok(spend.spentNanos > 0, 'the answered lines are counted');
    assert.equal(spend.reservedNanos, 0, 'the reservation was settled');

    const over = await run('batch-capped', input, ['--max-cost', '0.0000001']);
    assert.equal(over.code, 4, over.stderr);
    const lines = await readLines(path.join(dir, 'batch-capped.jsonl'));
    assert.equal(lines.length, ids.length);
    assert.ok(lines.every((l) => l.status === 'skipped' && l.error?.type === 'max_cost'), JSON.stringify(lines[0]));
    assert.equal(fake.stats().batch.batchesCreated, 1, 'only the first run submitted a batch');
  });
});
