import assert from 'node:assert/strict';
import { appendFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { FakeServer } from '../../src/fake-server/index.js';
import { finished, readLines, runCli, spawnCli, testPrefix } from '../helpers/cli.js';
import { withFakeServer } from '../helpers/fake-suite.js';

function prompts(from: number, to: number): string {
  let text = '';
  for (let i = from; i < to; i++) text += `${JSON.stringify({ custom_id: `q${i}`, prompt: `question ${i}` })}\n`;
  return text;
}

/** The JSON progress events a `--log-json` run logged to stderr. */
function progressEvents(stderr: string): Array<Record<string, unknown>> {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => e.message === 'progress');
}

describe('respool run: progress of the whole run', () => {
  let fake: FakeServer;
  let dir: string;
  const prefix = testPrefix();
  withFakeServer(prefix, (s) => ({ fake, dir } = s));

  const run = (name: string, input: string, globals: string[] = []) =>
    runCli([...globals, '--prefix', prefix, 'run', '--name', name, '--model', 'test-model', '--base-url', fake.url, '--input', input, '--out', path.join(dir, `${name}.jsonl`), '--concurrency', '4']);

  it('with --log-json, progress is JSON events; a resumed run counts the lines written before it', async () => {
    const input = path.join(dir, 'q.jsonl');
    await writeFile(input, prompts(0, 30));
    const first = await run('resumed', input, ['--log-json']);
    assert.equal(first.code, 0, first.stderr);
    const last1 = progressEvents(first.stderr).at(-1);
    assert.ok(last1, `no progress event in: ${first.stderr}`);
    assert.equal(last1.done, 30);
    assert.equal(last1.total, 30);
    assert.equal(last1.total_estimated, false);
    assert.equal(last1.resumed_from, 0);
    assert.equal(last1.failed, 0);
    assert.equal(typeof last1.cost, 'number');
    assert.ok('rate' in last1 && 'eta_s' in last1 && 'elapsed_s' in last1);

    // Ten more items: the second run writes 10 lines, and its progress is of the whole run.
    await appendFile(input, prompts(30, 40));
    const second = await run('resumed', input, ['--log-json']);
    assert.equal(second.code, 0, second.stderr);
    const last2 = progressEvents(second.stderr).at(-1)!;
    assert.equal(last2.done, 40);
    assert.equal(last2.total, 40);
    assert.equal(last2.resumed_from, 30);
    assert.equal((await readLines(path.join(dir, 'resumed.jsonl'))).length, 40);
    // Every stderr line of a --log-json run is JSON: progress is no free text there.
    for (const l of second.stderr.split('\n').filter(Boolean)) assert.doesNotThrow(() => JSON.parse(l), l);
  });

  it('without a terminal and without --log-json, progress is a plain log line, with no bar', async () => {
    const input = path.join(dir, 'plain-input.jsonl');
    await writeFile(input, prompts(0, 12));
    const res = await run('plain', input);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /info {2}progress 12\/12 \(100%\), [\d.-]+ lines\/s, elapsed \d+s, ETA 0s, failed 0, rejected 0, 429s 0, cost \$/);
    assert.ok(!/[█░]/.test(res.stderr) && !res.stderr.includes('\u001b['), res.stderr);
  });

  it('collect shows the progress of a run enqueued elsewhere: its total is the ledger\'s', async () => {
    const input = path.join(dir, 'collected-input.jsonl');
    await writeFile(input, prompts(0, 15));
    const common = ['--prefix', prefix];
    const enq = await runCli([...common, 'enqueue', '--name', 'collected', '--model', 'test-model', '--base-url', fake.url, '--input', input, '--out', path.join(dir, 'collected.jsonl')]);
    assert.equal(enq.code, 0, enq.stderr);
    const worker = spawnCli([...common, 'worker', '--name', 'collected', '--concurrency', '4']);
    const workerDone = finished(worker, 90_000);
    const res = await runCli(['--log-json', ...common, 'collect', '--name', 'collected']);
    worker.kill('SIGTERM');
    await workerDone;
    assert.equal(res.code, 0, res.stderr);
    const last = progressEvents(res.stderr).at(-1);
    assert.ok(last, `no progress event in: ${res.stderr}`);
    assert.deepEqual([last.done, last.total, last.total_estimated, last.failed], [15, 15, false, 0]);
  });
});
