import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';

const cliModule = new URL('../../src/fake-server/cli.ts', import.meta.url).href;

// A minimal program that only registers this command, so the test does not depend on the main CLI.
const script = `
import { Command } from 'commander';
import { registerFakeServerCommand } from ${JSON.stringify(cliModule)};
const program = new Command('respool').exitOverride();
registerFakeServerCommand(program);
try {
  await program.parseAsync(process.argv.slice(1), { from: 'user' });
} catch (e) {
  process.exitCode = typeof e.exitCode === 'number' ? e.exitCode : 1;
}
`;

function startCli(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, 'fake-server', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl !== -1) resolve(out.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before printing: ${err}`)));
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code, stderr }));
  });
}

test('fake-server prints its URL, serves calls and stops cleanly on SIGTERM', async () => {
  const child = startCli(['--port', '0', '--fail-first', '1', '--retry-after', '2'], { RESPOOL_FAKE_API_KEY: 'sk-cli' });
  const done = exited(child);
  try {
    const line = await firstLine(child);
    const m = /^fake OpenResponses server listening on (http:\/\/127\.0\.0\.1:\d+\/v1)$/.exec(line);
    assert.ok(m, `unexpected line: ${line}`);
    const url = `${m[1]}/responses`;
    const init = (auth: string): RequestInit => ({
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: auth, 'idempotency-key': 'cli-1' },
      body: JSON.stringify({ model: 'm', input: 'hello' }),
    });
    const unauthorized = await fetch(url, init('Bearer nope'));
    assert.equal(unauthorized.status, 401, 'the key comes from RESPOOL_FAKE_API_KEY');
    await unauthorized.body?.cancel();
    const limited = await fetch(url, init('Bearer sk-cli'));
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '2');
    await limited.body?.cancel();
    const ok = await fetch(url, init('Bearer sk-cli'));
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
  } finally {
    child.kill('SIGTERM');
  }
  const { code } = await done;
  assert.equal(code, 0);
});

test('bad numbers are refused with the flag named', async () => {
  for (const [flag, value] of [
    ['--rate-429', '1.5'],
    ['--port', 'abc'],
    ['--latency-ms', '-3'],
    ['--fail-first', 'x'],
  ] as const) {
    const { code, stderr } = await exited(startCli([flag, value]));
    assert.notEqual(code, 0, `${flag} ${value} was accepted`);
    assert.ok(stderr.includes(flag), `stderr does not name ${flag}: ${stderr}`);
  }
  const sum = await exited(startCli(['--rate-429', '0.6', '--rate-500', '0.6']));
  assert.notEqual(sum.code, 0);
  assert.match(sum.stderr, /--rate-429/);
});

test('batch and flex flags: a batch expires half done, flex calls get 429 resource_unavailable', async () => {
  const child = startCli(['--port', '0', '--batch-ms-per-request', '0', '--batch-validating-ms', '0', '--batch-finalizing-ms', '0', '--batch-expire-after', '0.5', '--flex-unavailable', '1']);
  const done = exited(child);
  try {
    const base = /listening on (\S+)$/.exec(await firstLine(child))![1]!;
    const flex = await fetch(`${base}/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', input: 'x', service_tier: 'flex' }) });
    assert.equal(flex.status, 429);
    assert.equal(((await flex.json()) as { error: { code: string } }).error.code, 'resource_unavailable');

    const lines = [0, 1, 2, 3].map((i) => JSON.stringify({ custom_id: `c${i}`, method: 'POST', url: '/v1/responses', body: { model: 'm', input: `x${i}` } })).join('\n');
    const form = new FormData();
    form.append('purpose', 'batch');
    form.append('file', new Blob([lines]), 'in.jsonl');
    const file = (await (await fetch(`${base}/files`, { method: 'POST', body: form })).json()) as { id: string };
    const created = (await (await fetch(`${base}/batches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input_file_id: file.id, endpoint: '/v1/responses', completion_window: '24h' }),
    })).json()) as { id: string };
    let batch = { status: 'validating', request_counts: { completed: 0 } };
    for (let i = 0; i < 200 && batch.status !== 'expired'; i++) {
      await new Promise((r) => setTimeout(r, 5));
      batch = (await (await fetch(`${base}/batches/${created.id}`)).json()) as typeof batch;
    }
    assert.equal(batch.status, 'expired');
    assert.equal(batch.request_counts.completed, 2);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal((await done).code, 0);
});

test('--batch-absent makes /files and /batches answer 404; bad batch flags are refused with the flag named', async () => {
  const child = startCli(['--port', '0', '--batch-absent']);
  const done = exited(child);
  try {
    const base = /listening on (\S+)$/.exec(await firstLine(child))![1]!;
    for (const path of ['/files', '/batches']) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 404, path);
      await res.body?.cancel();
    }
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal((await done).code, 0);
  for (const [flag, value] of [
    ['--batch-expire-after', '2'],
    ['--batch-error-status', '200'],
    ['--flex-unavailable', '-1'],
    ['--batch-enqueued-token-limit', '0'],
  ] as const) {
    const { code, stderr } = await exited(startCli([flag, value]));
    assert.notEqual(code, 0, `${flag} ${value} was accepted`);
    assert.ok(stderr.includes(flag), `stderr does not name ${flag}: ${stderr}`);
  }
});
