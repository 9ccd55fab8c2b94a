import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { FakeServer } from '../../src/fake-server/index.js';
import { writePrompts } from '../helpers/prompts.js';
import { countIds, readLines, runCli, testPrefix } from '../helpers/cli.js';
import { dumpPrefix } from '../helpers/redis-scan.js';
import { withFakeServer } from '../helpers/fake-suite.js';

/**
 * Input data never becomes part of a Redis key or a queue name: custom_ids are hashed into job ids
 * and run names are validated. Real CLI, real Redis, fake server.
 */
describe('queue and key names cannot be injected from input data', () => {
  let fake: FakeServer;
  const prefix = testPrefix();
  let dir: string;

  withFakeServer(prefix, (s) => ({ fake, dir } = s));

  it('custom_ids with ":", "*", newlines, "{}", key-like text and 10,000 characters each get their own line; Redis keys stay respool\'s', async () => {
    // A run whose keys a malicious id might try to reach.
    const victimInput = path.join(dir, 'victim.jsonl');
    await writeFile(victimInput, JSON.stringify({ custom_id: 'v1', prompt: 'untouched' }) + '\n');
    const victim = await runCli(['--prefix', prefix, 'run', '--name', 'victim', '--input', victimInput, '--model', 'm', '--base-url', fake.url, '--out', path.join(dir, 'victim.out.jsonl')]);
    assert.equal(victim.code, 0, victim.stderr);
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
    const res = await runCli(['--prefix', prefix, 'run', '--name', 'evil', '--input', input, '--model', 'm', '--base-url', fake.url, '--out', path.join(dir, 'evil.out.jsonl')]);
    assert.equal(res.code, 0, res.stderr);

    const lines = await readLines(path.join(dir, 'evil.out.jsonl'));
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

  it('run names that could reach other keys are refused by every command that takes one', async () => {
    for (const name of ['a:b', '*', '../x', '{x}', 'x'.repeat(65), 'new\nline']) {
      const run = await runCli(['--prefix', prefix, 'run', '--name', name, '--input', 'fixtures/reviews.csv', '--model', 'm', '--base-url', fake.url]);
      assert.equal(run.code, 2, `${JSON.stringify(name)}: ${run.stderr}`);
      assert.match(run.stderr, /name/);
    }
    for (const name of ['a:b']) {
      for (const cmd of ['collect', 'status', 'retry', 'cancel', 'clean']) {
        const res = await runCli(['--prefix', prefix, cmd, '--name', name], { killAfterMs: 15_000 });
        assert.equal(res.code, 2, `${cmd} ${JSON.stringify(name)}: ${res.stderr}`);
        assert.match(res.stderr, /--name: [\s\S]*must start with a letter or digit/);
      }
    }
    assert.deepEqual([...(await dumpPrefix(`${prefix}:run:a`)).keys()], []);
  });
});
