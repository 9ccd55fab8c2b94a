import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { FakeServer } from '../../src/fake-server/index.js';
import type { Respool } from '../../src/index.js';
import { jobHeadroom } from '../../src/worker/worker-set.js';
import { numberedIds, writePrompts } from '../helpers/prompts.js';
import { countIds, testPrefix } from '../helpers/cli.js';
import { runJob, withLibrary } from '../helpers/library.js';

describe('run: concurrency bounds the calls in flight', () => {
  let fake: FakeServer;
  let rp: Respool;
  let dir: string;
  const prefix = testPrefix();

  withLibrary(prefix, (s) => ({ fake, dir, rp } = s), { latencyMs: 150 });

  it('holds a tenth more jobs from 10 slots up, and none below', () => {
    assert.equal(jobHeadroom(4), 0);
    assert.equal(jobHeadroom(9), 0);
    assert.equal(jobHeadroom(20), 2);
    assert.equal(jobHeadroom(200), 20);
  });

  it('never has more than concurrency calls at the server, though the workers hold more jobs', async () => {
    const ids = numberedIds('c', 120);
    await writePrompts(path.join(dir, 'many.jsonl'), ids.map((id) => [id, `item ${id}`]));
    fake.reset();
    const { result, lines } = await runJob(rp, { name: 'slots', inputs: 'many.jsonl', model: 'test-model', base_url: fake.url, out: 'many.out.jsonl', concurrency: 20 });
    assert.equal(result.outcome, 'complete');
    assert.equal(result.failedLines, 0);
    assert.deepEqual([...countIds(lines).keys()].sort(), [...ids].sort());
    assert.ok(lines.every((l) => l.status === 'completed'));
    const { maxInFlight, requests } = fake.stats();
    assert.equal(requests, ids.length, 'one call per item');
    assert.ok(maxInFlight <= 20, `at most 20 calls at once, saw ${maxInFlight}`);
    // 120 items queued at once and 150 ms per call: the slots are used, not left idle.
    assert.ok(maxInFlight >= 10, `the slots were used: ${maxInFlight} at most`);
  });
});
