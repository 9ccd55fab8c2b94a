import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFakeServer, type FakeServer } from '../../src/fake-server/index.js';
import type { Job, Respool, RunReport, WorkHandle } from '../../src/index.js';
import { sleep } from '../../src/core/sleep.js';
import { writePrompts } from '../helpers/prompts.js';
import { countIds, finished, readLines, runCli, spawnCli, tempDir, testPrefix, waitFor } from '../helpers/cli.js';
import { runJob, withLibrary } from '../helpers/library.js';
import { deletePrefix, dumpPrefix } from '../helpers/redis-scan.js';

/**
 * status, retry and cancel through the library (`rp.status`, `rp.retry`, `rp.cancel`), with workers
 * (`rp.work`) and a collector (`rp.collect`) apart from the run that queued the items, a real Redis
 * and the fake server over HTTP.
 */
describe('operations: status, retry, cancel', () => {
  let fake: FakeServer;
  let dir: string;
  let rp: Respool;
  let messages: string[];
  let apiKey: string;
  const prefix = testPrefix();
  withLibrary(prefix, (s) => ({ fake, dir, rp, messages, apiKey } = s));
  const workers: WorkHandle[] = [];
  after(async () => {
    await Promise.all(workers.map((w) => w.stop(0)));
  });

  const work = async (name: string, concurrency: number): Promise<WorkHandle> => {
    const handle = await rp.work({ name, concurrency });
    workers.push(handle);
    return handle;
  };
  const status = async (name: string): Promise<RunReport> => {
    const report = await rp.status(name);
    assert.ok(report, `no run ${name}`);
    return report;
  };
  const writeInput = (name: string, prompts: Array<[string, string]>) => writePrompts(path.join(dir, `${name}.jsonl`), prompts);
  const job = (name: string, input: string, extra: Partial<Job> = {}): Job => ({ name, inputs: input, model: 'm', base_url: fake.url, out: `${name}.out.jsonl`, ...extra });

  it('status: queued, active, delayed, completed, failed, rate, ETA and oldest item', async () => {
    fake.reset();
    fake.setOptions({ latencyMs: 250, faults: undefined });
    const prompts: Array<[string, string]> = Array.from({ length: 12 }, (_, i) => [`s${i}`, `item ${i}`]);
    prompts.push(['flaky', '[[status:500]] always fails']);
    const input = await writeInput('st', prompts);
    const enq = await rp.enqueue(job('st', input, { attempts: 2, backoff_ms: 2500 }));
    assert.equal(enq.name, 'st');
    assert.equal(enq.added, 13);

    // Nothing works on it yet: everything is queued, and the oldest item ages.
    await sleep(1200);
    const idle = await status('st');
    assert.equal(idle.queued, 13);
    assert.equal(idle.active, 0);
    assert.equal(idle.delayed, 0);
    assert.equal(idle.completed, 0);
    assert.equal(idle.failed, 0);
    assert.equal(idle.rate, null);
    assert.equal(idle.eta_s, null);
    assert.ok(idle.oldest_s !== null && idle.oldest_s >= 1, `oldest_s ${idle.oldest_s}`);
    // Fields that were there before stay.
    for (const k of ['run', 'state', 'items', 'written', 'queue', 'to_write', 'budgets', 'out', 'model'] as const) assert.ok(k in idle, k);

    const worker = await work('st', 2);
    const done = rp.collect('st');
    // Mid-run: calls in flight, lines written, a rate and an ETA.
    let mid: RunReport | null = null;
    let sawDelayed = false;
    await waitFor(async () => {
      const s = await status('st');
      if (s.delayed > 0) sawDelayed = true;
      if (!mid && s.completed >= 3 && s.completed < s.items && s.rate !== null) mid = s;
      return mid !== null && sawDelayed;
    }, 60_000, 'a mid-run status with a rate and the failing item waiting for its retry');
    const m = mid as unknown as RunReport;
    assert.ok(m.active >= 0 && m.active <= 2, `active ${m.active}`);
    assert.ok(m.rate! > 0, `rate ${m.rate}`);
    assert.ok(m.eta_s !== null && m.eta_s > 0, `eta ${m.eta_s}`);
    assert.equal(m.queued + m.active + m.delayed + m.to_write + m.completed >= m.items - 1, true, JSON.stringify(m));

    const res = await done;
    // Complete, with the flaky item's failed line.
    assert.equal(res.outcome, 'complete');
    assert.equal(res.failedLines, 1);
    assert.equal(res.totals.lines, 13);
    const end = await status('st');
    assert.equal(end.state, 'complete');
    assert.equal(end.completed, 13);
    assert.equal(end.failed, 1);
    assert.deepEqual(end.lines, { completed: 12, failed: 1 });
    assert.equal(end.queued + end.active + end.delayed, 0);
    assert.equal(end.eta_s, 0);
    assert.equal(end.oldest_s, null);
    assert.ok(end.rate !== null && end.rate > 0);
    assert.equal(await worker.stop(), true);
  });

  it('retry: failed items run again; the results file ends with exactly one line per custom_id, the new one', async () => {
    fake.reset();
    // About half the calls fail with a 500, and with one attempt their lines are failed.
    fake.setOptions({ latencyMs: 0, faults: { rate500: 0.5, seed: 11 }, apiKey });
    const prompts: Array<[string, string]> = Array.from({ length: 20 }, (_, i) => [`r${i}`, `question ${i}`]);
    prompts.push(['always-400', '[[status:400]] refused every time']);
    const input = await writeInput('rt', prompts);
    const rtJob = job('rt', input, { attempts: 1 });
    const first = await runJob(rp, rtJob);
    const out = first.result.out;
    assert.equal(out, path.join(dir, 'rt.out.jsonl'));
    assert.equal(first.result.outcome, 'complete');
    const before = first.lines;
    const beforeText = (await readFile(out, 'utf8')).split('\n').filter(Boolean);
    const failedBefore = before.filter((l) => l.status === 'failed').map((l) => l.custom_id);
    const completedBefore = before.filter((l) => l.status === 'completed').map((l) => l.custom_id);
    assert.ok(failedBefore.length >= 3 && completedBefore.length >= 3, `failed ${failedBefore.length}, completed ${completedBefore.length}`);
    assert.ok(failedBefore.includes('always-400'));
    assert.equal(first.result.failedLines, failedBefore.length);
    assert.equal((await status('rt')).failed, failedBefore.length);

    // The server works now.
    fake.setOptions({ faults: undefined });
    const callsBefore = { ...fake.stats().byKey };
    const retry = await rp.retry('rt');
    assert.deepEqual(retry, { requeued: failedBefore.length, missing: 0 });
    const queuedAgain = await status('rt');
    assert.equal(queuedAgain.state, 'running');
    assert.equal(queuedAgain.queued, failedBefore.length);
    assert.equal(queuedAgain.failed, 0);
    assert.equal(queuedAgain.completed, 21 - failedBefore.length);

    const worker = await work('rt', 4);
    messages.length = 0;
    const collected = await rp.collect('rt');
    // always-400 fails again.
    assert.equal(collected.outcome, 'complete');
    assert.equal(collected.failedLines, 1);
    assert.equal(collected.totals.lines, failedBefore.length);
    assert.ok(messages.some((msg) => /rewrote .* without \d+ old line\(s\)/.test(msg)), messages.join('\n'));
    assert.equal(await worker.stop(), true);

    const afterLines = await readLines(out);
    const counts = countIds(afterLines);
    assert.equal(afterLines.length, 21);
    assert.equal(counts.size, 21);
    for (const [id, n] of counts) assert.equal(n, 1, id);
    const byId = new Map(afterLines.map((l) => [l.custom_id, l]));
    for (const id of failedBefore) {
      if (id === 'always-400') {
        assert.equal(byId.get(id)!.status, 'failed');
        assert.equal(byId.get(id)!.error?.type, 'invalid_request');
      } else {
        assert.equal(byId.get(id)!.status, 'completed', JSON.stringify(byId.get(id)));
      }
    }
    // Lines that were fine are untouched, byte for byte, and were not paid for again.
    const afterText = new Set((await readFile(out, 'utf8')).split('\n').filter(Boolean));
    for (const line of beforeText) {
      const l = JSON.parse(line) as { custom_id: string; status: string };
      if (l.status === 'completed') assert.ok(afterText.has(line), `${l.custom_id} changed`);
    }
    const calls = fake.stats().byKey;
    const newCalls = Object.entries(calls).filter(([k, n]) => n > (callsBefore[k] ?? 0)).length;
    assert.equal(newCalls, failedBefore.length, 'exactly the failed items were called again');

    const end = await status('rt');
    assert.equal(end.state, 'complete');
    assert.equal(end.completed, 21);
    assert.equal(end.failed, 1);
    assert.deepEqual(end.lines, { completed: 20, failed: 1 });

    // Retrying again re-runs only the one that still fails; the file still has one line for it.
    assert.equal((await rp.retry('rt')).requeued, 1);
    const again = await runJob(rp, rtJob);
    assert.equal(again.result.outcome, 'complete');
    assert.equal(again.result.failedLines, 1);
    assert.deepEqual(again.written.map((l) => l.custom_id), ['always-400']);
    const final = await readLines(out);
    assert.equal(final.length, 21);
    assert.equal(countIds(final).get('always-400'), 1);
    // Nothing is left of the retry bookkeeping but the one item that can be retried again.
    const keys = await dumpPrefix(`${prefix}:run:rt`);
    assert.ok(!keys.has(`${prefix}:run:rt:retrying`));
    assert.ok(!keys.has(`${prefix}:run:rt:superseded`));
    assert.equal(Object.keys(JSON.parse(keys.get(`${prefix}:run:rt:retry_data`)!) as object).length, 1);
    // The key the workers used (the fake server required it) is nowhere in Redis, the retry bookkeeping included.
    for (const [key, value] of await dumpPrefix(prefix)) assert.ok(!value.includes(apiKey) && !key.includes(apiKey), key);
    fake.setOptions({ apiKey: undefined });
  });

  it('cancel: no new calls; items not sent end as failed/cancelled lines; calls in flight finish; retry resumes them', async () => {
    fake.reset();
    fake.setOptions({ latencyMs: 1500, faults: undefined });
    const prompts: Array<[string, string]> = Array.from({ length: 30 }, (_, i) => [`c${i}`, `slow ${i}`]);
    const input = await writeInput('cx', prompts);
    const out = path.join(dir, 'cx.out.jsonl');
    assert.equal((await rp.enqueue(job('cx', input))).added, 30);
    const worker = await work('cx', 2);
    const collected = rp.collect('cx');
    await waitFor(async () => (await status('cx')).completed >= 2, 30_000, 'two lines written');

    const cancel = await rp.cancel('cx');
    assert.ok(cancel.ended >= 1, `ended ${cancel.ended}`);
    assert.equal(cancel.stillActive, 0, 'the calls in flight finished within the wait');
    const res = await collected;
    // Complete, with the cancelled items' failed lines.
    assert.equal(res.outcome, 'complete');

    const lines = await readLines(out);
    assert.equal(lines.length, 30);
    assert.equal(countIds(lines).size, 30);
    const completed = lines.filter((l) => l.status === 'completed');
    const cancelled = lines.filter((l) => l.status === 'failed');
    assert.equal(completed.length + cancelled.length, 30);
    // How many finished before the cancel depends on the machine; that some did and some did not does not.
    assert.ok(completed.length >= 2 && cancelled.length >= 1, `completed ${completed.length}, cancelled ${cancelled.length}`);
    assert.ok(cancel.ended <= cancelled.length, `the cancel ended ${cancel.ended}, ${cancelled.length} cancelled lines`);
    assert.equal(res.failedLines, cancelled.length);
    for (const l of cancelled) {
      assert.equal(l.error?.type, 'cancelled');
      assert.match(l.error!.message, /cancelled/);
      assert.equal(l.model, 'm');
    }
    // Every call made ended as a completed line: none was made for a cancelled item.
    assert.equal(fake.stats().requests, completed.length);
    const after = fake.stats().requests;
    await sleep(1000);
    assert.equal(fake.stats().requests, after, 'no call after the cancel');
    const s = await status('cx');
    assert.equal(s.state, 'cancelled');
    assert.equal(s.queued + s.active + s.delayed, 0);

    // The cancelled items can be queued again; the worker still running picks them up.
    fake.setOptions({ latencyMs: 0 });
    assert.equal((await rp.retry('cx')).requeued, cancelled.length);
    const collectAgain = await rp.collect('cx');
    assert.equal(collectAgain.outcome, 'complete');
    assert.equal(collectAgain.failedLines, 0);
    const final = await readLines(out);
    assert.equal(final.length, 30);
    assert.ok(final.every((l) => l.status === 'completed'), JSON.stringify(final.filter((l) => l.status !== 'completed')));
    assert.equal(await worker.stop(), true);
  });

  it('cancel: jobs a worker holds beyond its call slots end as cancelled lines instead of calling', async () => {
    fake.reset();
    // One wave of calls that outlasts the cancel: the jobs held beyond the 20 slots wait behind it.
    fake.setOptions({ latencyMs: 6000, faults: undefined });
    const prompts: Array<[string, string]> = Array.from({ length: 60 }, (_, i) => [`h${i}`, `held ${i}`]);
    const input = await writeInput('hx', prompts);
    const out = path.join(dir, 'hx.out.jsonl');
    assert.equal((await rp.enqueue(job('hx', input))).added, 60);
    const worker = await work('hx', 20);
    const collected = rp.collect('hx');
    await waitFor(async () => fake.stats().requests >= 20, 30_000, 'the first 20 calls');
    // 20 calls in flight, and the worker holds 2 more jobs (a tenth of its slots) waiting for a slot.
    await waitFor(async () => (await status('hx')).active === 22, 3_000, 'two held jobs');
    assert.equal(fake.stats().requests, 20);

    await rp.cancel('hx');
    const res = await collected;
    // Complete, with the cancelled items' failed lines.
    assert.equal(res.outcome, 'complete');
    assert.equal(res.failedLines, 40);
    const lines = await readLines(out);
    assert.equal(countIds(lines).size, 60);
    assert.equal(lines.length, 60);
    assert.equal(lines.filter((l) => l.status === 'completed').length, 20);
    const cancelled = lines.filter((l) => l.error?.type === 'cancelled');
    assert.equal(cancelled.length, 40);
    // The two held jobs got their slots when the wave ended, after the cancel: no call for them.
    assert.equal(fake.stats().requests, 20);
    assert.ok(cancelled.every((l) => l.status === 'failed' && l.model === 'm'));
    // The worker stops cleanly: no call left in flight.
    assert.equal(await worker.stop(), true);
  });

  it('cancel stops a run that is still reading its input; every item it queued gets one line', async () => {
    fake.reset();
    fake.setOptions({ latencyMs: 300, faults: undefined });
    const prompts: Array<[string, string]> = Array.from({ length: 6000 }, (_, i) => [`big${i}`, `row ${i}`]);
    const input = await writeInput('big', prompts);
    messages.length = 0;
    const running = runJob(rp, job('big', input, { concurrency: 2 }));
    // The run keeps only a lead ahead of its two workers (it grows with the jobs they take), so it is
    // still reading its 6000 rows when this holds.
    await waitFor(async () => {
      const s = await rp.status('big');
      return s !== null && s.completed >= 3 && s.items >= 50;
    }, 60_000, 'the run to be under way');
    await rp.cancel('big');
    const { result, lines } = await running;
    assert.equal(result.outcome, 'cancelled');
    assert.ok(messages.some((msg) => /run big was cancelled: stopped reading the inputs after \d+ items/.test(msg)), messages.join('\n'));
    const s = await status('big');
    assert.equal(s.state, 'cancelled');
    assert.ok(s.items < 6000, `items ${s.items}`);
    assert.ok(result.enqueued.read < 6000, `read ${result.enqueued.read}`);
    assert.equal(lines.length, s.items);
    assert.equal(countIds(lines).size, lines.length);
    const completed = lines.filter((l) => l.status === 'completed').length;
    assert.equal(lines.filter((l) => l.error?.type === 'cancelled').length, lines.length - completed);
    assert.equal(result.failedLines, lines.length - completed);
    assert.equal(fake.stats().requests, completed);
  });
});

/** The commands' own part: their exit codes, what they print, a worker and a collector as processes. */
describe('operations: status, retry, cancel (command line)', () => {
  let fake: FakeServer;
  const prefix = testPrefix();
  let dir: string;
  const children: ChildProcess[] = [];

  before(async () => {
    fake = await startFakeServer();
    dir = await tempDir();
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await fake.close();
    await deletePrefix(prefix);
  });

  const cli = (args: string[]) => runCli(['--prefix', prefix, ...args], { killAfterMs: 90_000 });

  it('run exits 5 naming retry; status prints a table and JSON; retry and cancel say what they did; worker and collect as processes', async () => {
    const prompts: Array<[string, string]> = [['k0', 'one'], ['k1', 'two'], ['k2', 'three'], ['bad', '[[status:400]] refused']];
    const input = await writePrompts(path.join(dir, 'ops.jsonl'), prompts);
    const out = path.join(dir, 'ops.out.jsonl');
    const run = await cli(['run', '--name', 'ops', '--input', input, '--model', 'm', '--base-url', fake.url, '--out', out, '--attempts', '1']);
    // Complete, with the refused item's failed line: exit code 5.
    assert.equal(run.code, 5, run.stderr);
    assert.match(run.stderr, /respool retry --name ops queues it again/);

    const table = await cli(['status', '--name', 'ops']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /RUN\s+STATE\s+QUEUED\s+ACTIVE\s+DELAYED\s+COMPLETED\s+FAILED\s+RATE\/S\s+ETA\s+OLDEST/);
    // RATE/S is '-' until the progress samples span enough time to measure one: 4 items may be written before.
    assert.match(table.stdout, /\nops\s+complete\s+0\s+0\s+0\s+4\/4\s+1\s+(?:[\d.]+|-)\s+0s\s+-/);
    const json = await cli(['status', '--name', 'ops', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const report = (JSON.parse(json.stdout) as RunReport[])[0]!;
    assert.equal(report.state, 'complete');
    assert.deepEqual(report.lines, { completed: 3, failed: 1 });

    const retry = await cli(['retry', '--name', 'ops']);
    assert.equal(retry.code, 0, retry.stderr);
    assert.match(retry.stderr, /1 item\(s\) with a failed line queued again/);
    const worker = spawnCli(['--prefix', prefix, 'worker', '--name', 'ops', '--concurrency', '2']);
    children.push(worker);
    const collected = await cli(['collect', '--name', 'ops']);
    // The refused item fails again: exit code 5.
    assert.equal(collected.code, 5, collected.stderr);
    assert.match(collected.stderr, /rewrote .* without \d+ old line\(s\)/);
    worker.kill('SIGTERM');
    assert.equal((await finished(worker)).code, 0);
    assert.equal((await readLines(out)).find((l) => l.custom_id === 'bad')?.error?.type, 'invalid_request');

    // Queued again with no worker on the run: the cancel ends it, the collector writes its cancelled line.
    assert.equal((await cli(['retry', '--name', 'ops'])).code, 0);
    const cancel = await cli(['cancel', '--name', 'ops']);
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.match(cancel.stderr, /cancelled run ops: 1 item\(s\) ended as cancelled/);
    const afterCancel = await cli(['collect', '--name', 'ops']);
    assert.equal(afterCancel.code, 5, afterCancel.stderr);
    const lines = await readLines(out);
    assert.equal(lines.length, 4);
    assert.equal(countIds(lines).size, 4);
    assert.equal(lines.find((l) => l.custom_id === 'bad')?.error?.type, 'cancelled');
  });
});
