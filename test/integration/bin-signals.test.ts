import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { REDIS_URL, ROOT, finished, spawnCli, tempDir, testPrefix, waitFor } from '../helpers/cli.js';
import { deletePrefix } from '../helpers/redis-scan.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * `npx respool worker &` starts npm, which starts a shell, which starts respool: the pid a person
 * kills is npm's, and npm does not pass SIGTERM on. This launcher plays npm: it starts bin/respool.js
 * with npm's environment, prints the child's pid, and dies on SIGTERM without passing it on.
 */
const LAUNCHER = `
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const [bin, log, ...args] = process.argv.slice(1);
const out = fs.openSync(log, 'a');
const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', out, out], env: { ...process.env, npm_command: 'exec', npm_lifecycle_event: 'npx' } });
console.log(child.pid);
setInterval(() => {}, 1000);
`;

describe('bin/respool.js and signals', () => {
  const prefix = testPrefix();
  const orphans: number[] = [];
  after(async () => {
    for (const pid of orphans) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await deletePrefix(prefix);
  });

  it('SIGTERM to the pid of `respool worker` stops the worker gracefully, leaving no process', async () => {
    const worker = spawnCli(['--prefix', prefix, 'worker', '--concurrency', '2']);
    let stderr = '';
    worker.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = finished(worker, 60_000);
    // Once it has said something, its signal handlers are in place.
    await waitFor(() => stderr.includes('OPENRESPONSES_API_KEY'), 30_000, 'the worker to start');
    worker.kill('SIGTERM');
    const res = await exited;
    assert.equal(res.code, 0, res.stderr);
    assert.match(stderr, /stopping: no new jobs/);
    assert.match(stderr, /worker stopped; it delivered 0 lines/);
    assert.equal(alive(worker.pid!), false);
  });

  it('started through npm (npx), the worker stops gracefully when the pid that was killed is npm\'s', async () => {
    const log = path.join(await tempDir(), 'worker.log');
    const launcher = spawn(process.execPath, ['-e', LAUNCHER, path.join(ROOT, 'bin', 'respool.js'), log, '--prefix', prefix, 'worker', '--concurrency', '2'], {
      env: { ...process.env, REDIS_URL },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    launcher.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    await waitFor(() => /^\d+\n/.test(stdout), 30_000, 'the launcher to print the pid');
    const pid = Number(stdout.trim());
    orphans.push(pid);
    const logText = () => readFile(log, 'utf8').catch(() => '');
    await waitFor(async () => (await logText()).includes('OPENRESPONSES_API_KEY'), 30_000, 'the worker to start');
    const launcherExited = finished(launcher, 30_000);
    launcher.kill('SIGTERM');
    assert.equal((await launcherExited).signal, 'SIGTERM');
    await waitFor(() => !alive(pid), 45_000, `respool (pid ${pid}) to stop after its launcher was killed`);
    const text = await logText();
    assert.match(text, /stopping: no new jobs/);
    assert.match(text, /worker stopped; it delivered 0 lines/);
  });
});
