import assert from 'node:assert/strict';
import { access, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { FakeServer } from '../../src/fake-server/index.js';
import { freePort } from '../../src/queue/embedded-redis.js';
import { numberedIds, writePrompts } from '../helpers/prompts.js';
import { assertEachIdOnce, lineCount, readLines, runCli, testPrefix, waitFor } from '../helpers/cli.js';
import { Proc, stopAll } from '../helpers/procs.js';
import { withFakeServer } from '../helpers/fake-suite.js';
import { dumpPrefix } from '../helpers/redis-scan.js';

const KEY = 'sk-test-exitcodes-0123456789';

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

describe('exit codes', () => {
  let fake: FakeServer;
  const prefix = testPrefix();
  let dir: string;

  withFakeServer(prefix, (s) => ({ fake, dir } = s));

  const run = (args: string[], env: Record<string, string | undefined> = {}) =>
    runCli(['--prefix', prefix, 'run', '--model', 'test-model', '--rpm', '100000', ...args], { env: { OPENRESPONSES_API_KEY: KEY, ...env } });

  it('a missing input file is a settings error (2) naming it, before anything is queued or written', async () => {
    const out = path.join(dir, 'missing.jsonl');
    const missing = path.join(dir, 'nightly-mount', 'nope.jsonl');
    for (const cmd of ['run', 'enqueue']) {
      const res = await runCli(['--prefix', prefix, cmd, '--name', 'missing', '--input', missing, '--model', 'test-model', '--base-url', fake.url, '--out', out]);
      assert.equal(res.code, 2, `${cmd}: ${res.stderr}`);
      assert.match(res.stderr, new RegExp(`${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: no such file or folder`));
    }
    assert.equal(await exists(out), false, 'no results file');
    assert.equal((await dumpPrefix(prefix)).size, 0, 'nothing in Redis');
    assert.equal(fake.stats().requests, 0);
  });

  it('a glob that matches nothing is a settings error (2)', async () => {
    const out = path.join(dir, 'glob.jsonl');
    const res = await run(['--name', 'glob', '--input', path.join(dir, 'photos', '*.jpg'), '--base-url', fake.url, '--out', out]);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /photos\/\*\.jpg: the pattern matched no files/);
    assert.equal(await exists(out), false);
    assert.equal((await dumpPrefix(prefix)).size, 0);
  });

  it('an API key with CR/LF is a settings error (2) for run and worker, naming the variable and never the key', async () => {
    const input = await writePrompts(path.join(dir, 'crlf.jsonl'), [['a', 'hello']]);
    const out = path.join(dir, 'crlf-out.jsonl');
    const badKey = `${KEY}\r\nX-Injected: 1`;
    const results = [
      await run(['--name', 'crlf', '--input', input, '--base-url', fake.url, '--out', out], { OPENRESPONSES_API_KEY: badKey }),
      await runCli(['--prefix', prefix, 'worker', '--name', 'crlf'], { env: { OPENRESPONSES_API_KEY: badKey } }),
    ];
    for (const res of results) {
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, /OPENRESPONSES_API_KEY contains a carriage return/);
      assert.ok(!`${res.stdout}${res.stderr}`.includes('exitcodes-0123456789'), 'the key is not printed');
    }
    assert.equal(await exists(out), false);
    assert.equal((await dumpPrefix(prefix)).size, 0);
    assert.equal(fake.stats().requests, 0);
  });

  it('REDIS_URL with a database that is not a number is a settings error (2), without a stack trace or the password', async () => {
    const res = await runCli(['--prefix', prefix, 'status'], { env: { REDIS_URL: 'redis://:hunter2@127.0.0.1:6379/abc' } });
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /REDIS_URL: the database "abc" in redis:\/\/:\*\*\*@127\.0\.0\.1:6379\/abc is not a number/);
    assert.doesNotMatch(res.stderr, /hunter2|ReplyError|\n\s+at /);
  });

  it('an API answering only 500: the circuit stops the run after its N calls (6), no failed lines; the same command resumes once it works', async () => {
    const ids = numberedIds('s', 8);
    const input = await writePrompts(path.join(dir, 'down.jsonl'), ids.map((id) => [id, `question ${id}`]));
    const out = path.join(dir, 'down-out.jsonl');
    const args = ['--name', 'down', '--input', input, '--base-url', fake.url, '--out', out, '--concurrency', '1', '--backoff-ms', '1', '--circuit-breaker', '5'];
    fake.reset();
    fake.setOptions({ faults: { rate500: 1 } });
    const first = await run(args);
    assert.equal(first.code, 6, first.stderr);
    // One call at a time: the fifth 500 in a row opened the circuit, and no call followed it.
    assert.equal(fake.stats().requests, 5);
    assert.match(first.stderr, new RegExp(`the API at ${fake.url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} could not be reached or answered only errors: 5 calls in a row failed`));
    assert.ok(!first.stderr.includes(KEY));
    assert.equal(await lineCount(out), 0, 'the items not done have no line');

    fake.setOptions({ faults: {} });
    const second = await run(args);
    assert.equal(second.code, 0, second.stderr);
    const lines = await readLines(out);
    assertEachIdOnce(lines, ids);
    assert.ok(lines.every((l) => l.status === 'completed'), JSON.stringify(lines.filter((l) => l.status !== 'completed')));
  });

  it('a base URL where nothing listens: exit 6 naming the URL; running again with the right URL resumes every item once', async () => {
    const ids = numberedIds('d', 30);
    const input = await writePrompts(path.join(dir, 'dead.jsonl'), ids.map((id) => [id, `question ${id}`]));
    const out = path.join(dir, 'dead-out.jsonl');
    const deadUrl = `http://127.0.0.1:${await freePort()}/v1`;
    const args = ['--name', 'dead', '--input', input, '--out', out, '--concurrency', '4', '--backoff-ms', '50'];
    const first = await run([...args, '--base-url', deadUrl]);
    assert.equal(first.code, 6, first.stderr);
    assert.match(first.stderr, new RegExp(`respool: run dead stopped: the API at ${deadUrl.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} could not be reached`));
    assert.match(first.stderr, /ECONNREFUSED/);
    assert.match(first.stderr, /run the same command again to resume/);
    assert.equal(await lineCount(out), 0);

    fake.reset();
    const second = await run([...args, '--base-url', fake.url]);
    assert.equal(second.code, 0, second.stderr);
    const lines = await readLines(out);
    assertEachIdOnce(lines, ids);
    assert.ok(lines.every((l) => l.status === 'completed'));
  });

  it('a run with failed lines exits 5 with the retry command, again when run again; --allow-failures and allow_failures give 0', async () => {
    const input = await writePrompts(path.join(dir, 'some-fail.jsonl'), [
      ['ok', 'this one works'],
      ['bad', 'this one is refused [[status:400]]'],
    ]);
    const out = path.join(dir, 'some-fail-out.jsonl');
    const args = ['--name', 'somefail', '--input', input, '--base-url', fake.url, '--out', out];
    const first = await run(args);
    assert.equal(first.code, 5, first.stderr);
    assert.match(first.stderr, /respool: run somefail is complete, but 1 line did not succeed \(1 failed\); respool retry --name somefail queues it again/);
    assert.equal(await lineCount(out), 2);

    const again = await run(args);
    assert.equal(again.code, 5, again.stderr);
    assert.match(again.stderr, /run somefail was already complete: its 2 lines are in /);
    assert.match(again.stderr, /respool retry --name somefail/);
    assert.doesNotMatch(again.stderr, /complete: 0 lines/);

    const allowed = await run([...args, '--allow-failures']);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stderr, /respool retry --name somefail queues it again/);

    const job = path.join(dir, 'somefail.json');
    await writeFile(job, JSON.stringify({ name: 'somefail', inputs: [input], model: 'test-model', base_url: fake.url, out, allow_failures: true }));
    const fromJob = await runCli(['--prefix', prefix, 'run', job], { env: { OPENRESPONSES_API_KEY: KEY } });
    assert.equal(fromJob.code, 0, fromJob.stderr);
    assert.equal(await lineCount(out), 2, 'nothing was called or written again');
  });
});

describe('exit codes: a circuit opened in a worker process', () => {
  let fake: FakeServer;
  const prefix = testPrefix();
  let dir: string;

  withFakeServer(prefix, (s) => ({ fake, dir } = s));

  it('worker and collect report the stop; enqueueing again with the right URL resumes it, each item once, and collect exits 0', async () => {
    const ids = numberedIds('w', 12);
    const input = await writePrompts(path.join(dir, 'wdead.jsonl'), ids.map((id) => [id, `question ${id}`]));
    const out = path.join(dir, 'wdead-out.jsonl');
    const deadUrl = `http://127.0.0.1:${await freePort()}/v1`;
    const enqueue = (baseUrl: string) =>
      runCli(['--prefix', prefix, 'enqueue', '--name', 'wdead', '--input', input, '--model', 'test-model', '--base-url', baseUrl, '--out', out, '--backoff-ms', '50', '--circuit-breaker', '4']);
    assert.equal((await enqueue(deadUrl)).code, 0);
    const env = { OPENRESPONSES_API_KEY: KEY };
    const worker = new Proc(['--prefix', prefix, 'worker', '--name', 'wdead', '--concurrency', '2'], { env });
    const collector = new Proc(['--prefix', prefix, 'collect', '--name', 'wdead']);
    try {
      const stderrOf = (p: Proc) => {
        let text = '';
        p.child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
        return () => text;
      };
      const workerLog = stderrOf(worker);
      const collectorLog = stderrOf(collector);
      await waitFor(() => workerLog().includes(`run wdead stopped: the API at ${deadUrl} could not be reached`), 60_000, 'the worker to report the stop');
      await waitFor(() => collectorLog().includes('this collector waits'), 30_000, 'the collector to report the stop');
      assert.match(collectorLog(), new RegExp(`run wdead stopped: the API at ${deadUrl.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
      assert.equal(collector.running, true, 'the collector keeps waiting');
      assert.equal(await lineCount(out), 0, 'no failed lines');

      // Enqueued again with the right URL: the running worker picks the run up again, the collector finishes it.
      assert.equal((await enqueue(fake.url)).code, 0);
      const collected = await collector.done;
      assert.equal(collected.code, 0, collected.stderr);
      assertEachIdOnce(await readLines(out), ids);
      assert.ok(!`${workerLog()}${collectorLog()}`.includes(KEY));
    } finally {
      await stopAll([worker, collector]);
    }
  });
});
