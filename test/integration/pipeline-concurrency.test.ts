import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { FakeServer } from '../../src/fake-server/index.js';
import { jobHeadroom } from '../../src/worker/worker-set.js';
import { numberedIds, writePrompts } from '../helpers/prompts.js';
import { countIds, readLines, runCli, testPrefix } from '../helpers/cli.js';
import { withFakeServer } from '../helpers/fake-suite.js';

describe('respool run: concurrency bounds the calls in flight', () => {
  let fake: FakeServer;
  const prefix = testPrefix();
  let dir: string;

  withFakeServer(prefix, (s) => ({ fake, dir } = s), { latencyMs: 150 });

  it('holds a tenth more jobs from 10 slots up, and none below', () => {
    assert.equal(jobHeadroom(4), 0);
    assert.equal(jobHeadroom(9), 0);
    assert.equal(jobHeadroom(20), 2);
    assert.equal(jobHeadroom(200), 20);
  });

  it('never has more than --concurrency calls at the server, though the workers hold more jobs', async () => {
    const ids = numberedIds('c', 120);
    const input = path.join(dir, 'many.jsonl');
    await writePrompts(input, ids.map((id) => [id, `item ${id}`]));
    fake.reset();
    const out = path.join(dir, 'many.out.jsonl');
    const res = await runCli(
      ['--prefix', prefix, 'run', '--name', 'slots', '--input', input, '--model', 'test-model', '--base-url', fake.url, '--out', out, '--concurrency', '20'],
      { env: { OPENRESPONSES_API_KEY: 'sk-test-slots' } },
    );
    assert.equal(res.code, 0, res.stderr);
    const lines = await readLines(out);
    assert.deepEqual([...countIds(lines).keys()].sort(), [...ids].sort());
    assert.ok(lines.every((l) => l.status === 'completed'));
    const { maxInFlight, requests } = fake.stats();
    assert.equal(requests, ids.length, 'one call per item');
    assert.ok(maxInFlight <= 20, `at most 20 calls at once, saw ${maxInFlight}`);
    // 120 items queued at once and 150 ms per call: the slots are used, not left idle.
    assert.ok(maxInFlight >= 10, `the slots were used: ${maxInFlight} at most`);
  });
});
