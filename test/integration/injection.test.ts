import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { FakeServer } from '../../src/fake-server/index.js';
import { ConfigError, type Respool } from '../../src/index.js';
import { writePrompts } from '../helpers/prompts.js';
import { countIds, runCli, testPrefix } from '../helpers/cli.js';
import { dumpPrefix } from '../helpers/redis-scan.js';
import { withFakeServer } from '../helpers/fake-suite.js';
import { runJob, withLibrary } from '../helpers/library.js';

const BAD_NAMES = ['a:b', '*', '../x', '{x}', 'x'.repeat(65), 'new\nline'];
const NOT_A_NAME = /name[\s\S]*must start with a letter or digit/;

/**
 * Input data never becomes part of a Redis key or a queue name: custom_ids are hashed into job ids
 * and run names are validated. In process through the library, real Redis, fake server.
 */
describe('queue and key names cannot be injected from input data', () => {
  let fake: FakeServer;
  let rp: Respool;
  const prefix = testPrefix();
  let dir: string;

  withLibrary(prefix, (s) => ({ fake, dir, rp } = s));

  it('custom_ids with ":", "*", newlines, "{}", key-like text and 10,000 characters each get their own line; Redis keys stay respool\'s', async () => {
    // A run whose keys a malicious id might try to reach.
    const victimInput = path.join(dir, 'victim.jsonl');
    await writeFile(victimInput, JSON.stringify({ custom_id: 'v1', prompt: 'untouched' }) + '\n');
    const victim = await runJob(rp, { name: 'victim', inputs: victimInput, model: 'm', base_url: fake.url, out: 'victim.out.jsonl' });
    assert.equal(victim.result.outcome, 'complete');
    assert.equal(victim.result.failedLines, 0);
    const victimBefore = await dumpPrefix(`${prefix}:run:victim`);

    const ids = [
      'a:b:c',
      '*',
      'x*y?[z]',
      'first line\nsecond line',
      'crlf\r\nand\ttab',
      '{hash-tag}',
      '{}',
      `${prefix}:run:victim:ledger`,
      `${prefix}:q:victim:wait`,
      '../../etc/passwd',
      'L'.repeat(10_000),
      '123456',
      'ünïcödé ✓',
      'nul\u0000byte',
    ];
    const input = path.join(dir, 'evil.jsonl');
    await writePrompts(input, ids.map((id, i) => [id, `item ${i}`]));
    const { result, lines } = await runJob(rp, { name: 'evil', inputs: input, model: 'm', base_url: fake.url, out: 'evil.out.jsonl' });
    assert.equal(result.outcome, 'complete');
    assert.equal(result.failedLines, 0);

    const counts = countIds(lines);
    assert.equal(lines.length, ids.length);
    for (const id of ids) assert.equal(counts.get(id), 1, JSON.stringify(id.slice(0, 40)));
    assert.ok(lines.every((l) => l.status === 'completed'), JSON.stringify(lines.filter((l) => l.status !== 'completed')));

    // Every key is one of respool's own names; job ids in the ledger are hashes.
    const dump = await dumpPrefix(prefix);
    const allowed = new RegExp(`^${prefix}:(runs|budget:[0-9a-f]+(:inflight)?|run:(evil|victim):[a-z_]+|run:(evil|victim):ledger:w:[0-9a-f]{4}|q:(evil|victim):[a-z-]+(:i[0-9a-f]{32}(:[a-z]+)?)?)$`);
    for (const key of dump.keys()) assert.match(key, allowed);
    // Written items sit in the ledger's buckets, named by hex digits of their hashed job ids (an id
    // that is not a hash would be kept whole, in bucket "_", which the pattern above refuses).
    const buckets = [...dump.keys()].filter((k) => k.startsWith(`${prefix}:run:evil:ledger:w:`));
    const written = buckets.reduce((n, k) => n + Object.keys(JSON.parse(dump.get(k)!) as Record<string, string>).length, 0);
    assert.equal(written, ids.length);
    // The run the ids named is as it was.
    assert.deepEqual(await dumpPrefix(`${prefix}:run:victim`), victimBefore);
    // Every call carried a hashed Idempotency-Key.
    for (const key of Object.keys(fake.stats().byKey)) assert.match(key, /^i[0-9a-f]{32}$/);
  });

  it('run names that could reach other keys are refused by run, enqueue and every method that takes a name', { timeout: 30_000 }, async () => {
    for (const name of BAD_NAMES) {
      const job = { name, inputs: 'in.csv', model: 'm', base_url: fake.url };
      assert.throws(() => rp.run(job), (err: Error) => err instanceof ConfigError && NOT_A_NAME.test(err.message), JSON.stringify(name));
      await assert.rejects(rp.enqueue(job), (err: Error) => err instanceof ConfigError && NOT_A_NAME.test(err.message), JSON.stringify(name));
      const methods: Array<[string, () => Promise<unknown>]> = [
        ['status', () => rp.status(name)],
        ['retry', () => rp.retry(name)],
        ['cancel', () => rp.cancel(name, { waitMs: 0 })],
        ['work', () => rp.work({ name })],
        // Last: a collector of a name it does not refuse waits for that run to appear.
        ['collect', () => rp.collect(name)],
      ];
      for (const [method, call] of methods) {
        await assert.rejects(call(), (err: Error) => err instanceof ConfigError && NOT_A_NAME.test(err.message), `${method} ${JSON.stringify(name)}`);
      }
    }
    assert.deepEqual([...(await dumpPrefix(`${prefix}:run:a`)).keys()], []);
    assert.deepEqual([...(await dumpPrefix(`${prefix}:q:a`)).keys()], []);
  });
});

describe('queue and key names cannot be injected from input data (command line)', () => {
  let fake: FakeServer;
  const prefix = testPrefix();

  withFakeServer(prefix, (s) => ({ fake } = s));

  it('run names that could reach other keys are refused by every command that takes one, with exit code 2', async () => {
    for (const name of ['a:b', 'new\nline']) {
      const run = await runCli(['--prefix', prefix, 'run', '--name', name, '--input', 'fixtures/reviews.csv', '--model', 'm', '--base-url', fake.url]);
      assert.equal(run.code, 2, `${JSON.stringify(name)}: ${run.stderr}`);
      assert.match(run.stderr, /name/);
    }
    for (const cmd of ['collect', 'status', 'retry', 'cancel', 'clean']) {
      const res = await runCli(['--prefix', prefix, cmd, '--name', 'a:b'], { killAfterMs: 15_000 });
      assert.equal(res.code, 2, `${cmd} "a:b": ${res.stderr}`);
      assert.match(res.stderr, /--name: [\s\S]*must start with a letter or digit/);
    }
    assert.deepEqual([...(await dumpPrefix(`${prefix}:run:a`)).keys()], []);
  });
});
