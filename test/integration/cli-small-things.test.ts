import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { FakeServer } from '../../src/fake-server/index.js';
import { ROOT, runCli, testPrefix } from '../helpers/cli.js';
import { withFakeServer } from '../helpers/fake-suite.js';

describe('the small things a new user meets', () => {
  let fake: FakeServer;
  let dir: string;
  const prefix = testPrefix();
  withFakeServer(prefix, (s) => ({ fake, dir } = s));

  it('--version and -V print the package version', async () => {
    const { version } = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const res = await runCli([flag]);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stdout, `${version}\n`);
    }
  });

  it('with OPENAI_API_KEY set and OPENRESPONSES_API_KEY not, the warning says how to pass it, never the key', async () => {
    const secret = 'sk-hint-Zq8-not-to-be-printed';
    const input = path.join(dir, 'hint.jsonl');
    await writeFile(input, '{"prompt":"hello"}\n');
    const res = await runCli(['--prefix', prefix, 'run', '--name', 'hint', '--model', 'test-model', '--base-url', fake.url, '--input', input, '--out', path.join(dir, 'hint-out.jsonl')], {
      env: { OPENRESPONSES_API_KEY: undefined, OPENAI_API_KEY: secret },
    });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /OPENAI_API_KEY is set, but respool reads only OPENRESPONSES_API_KEY; to use it: export OPENRESPONSES_API_KEY="\$OPENAI_API_KEY"/);
    assert.ok(!res.stderr.includes(secret) && !res.stdout.includes(secret));
  });

  it('status names a rate-limit budget by model and API host, never by the key', async () => {
    const key = 'sk-status-Qw7-secret';
    const input = path.join(dir, 'budget.jsonl');
    await writeFile(input, '{"prompt":"a"}\n{"prompt":"b"}\n');
    const run = await runCli(['--prefix', prefix, 'run', '--name', 'budget', '--model', 'test-model', '--base-url', fake.url, '--input', input, '--out', path.join(dir, 'budget-out.jsonl'), '--rpm', '6000'], {
      env: { OPENRESPONSES_API_KEY: key },
    });
    assert.equal(run.code, 0, run.stderr);
    const host = new URL(fake.url).host;
    const text = await runCli(['--prefix', prefix, 'status', '--name', 'budget']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`  budget test-model @ ${host.replace(/\./g, '\\.')} \\([0-9a-f]{8}\\): `));
    const json = await runCli(['--prefix', prefix, 'status', '--name', 'budget', '--json']);
    const [report] = JSON.parse(json.stdout) as Array<{ budgets: Array<{ label: string | null; rpm: number }> }>;
    assert.deepEqual(report!.budgets.map((b) => [b.label, b.rpm]), [[`test-model @ ${host}`, 6000]]);
    for (const out of [text.stdout, json.stdout]) assert.ok(!out.includes(key) && !out.includes('Qw7'));
  });

  it('schedule --list prints a table with a header', async () => {
    const job = path.join(dir, 'listed.yaml');
    await writeFile(job, ['name: listed', `inputs: [${path.join(dir, 'budget.jsonl')}]`, 'model: test-model', 'out: out/listed-{date}.jsonl'].join('\n'));
    const added = await runCli(['--prefix', prefix, 'schedule', job, '--cron', '0 2 * * *', '--tz', 'Europe/Berlin']);
    assert.equal(added.code, 0, added.stderr);
    try {
      const list = await runCli(['--prefix', prefix, 'schedule', '--list']);
      assert.equal(list.code, 0, list.stderr);
      const [header, row, ...rest] = list.stdout.trimEnd().split('\n');
      assert.match(header!, /^NAME +SCHEDULE +TZ +NEXT RUN +OUT$/);
      assert.match(row!, /^listed +0 2 \* \* \* +Europe\/Berlin +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z +\/\S+\/out\/listed-\{date\}\.jsonl$/);
      assert.deepEqual(rest, []);
      assert.ok(!list.stdout.includes('\t'));
    } finally {
      await runCli(['--prefix', prefix, 'schedule', '--remove', 'listed']);
    }
  });
});
