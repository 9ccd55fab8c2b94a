import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { runCli, tempDir } from '../helpers/cli.js';
import { writeResults } from '../helpers/results-gen.js';

/** Debian's chromium package (installed by .ci/run); CHROMIUM_PATH points elsewhere. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const inCi = process.env.CI === 'true';
const haveChromium = await access(CHROMIUM).then(
  () => true,
  () => false,
);

function chromium(args: string[], userDataDir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    CHROMIUM,
    ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${userDataDir}`, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  return new Promise((resolve) => child.on('close', (code) => (clearTimeout(timer), resolve({ code, stdout, stderr }))));
}

// Outside CI a machine without Chromium skips this test; in CI a missing Chromium is a failure.
describe('HTML report in a headless browser', { skip: !haveChromium && !inCi ? `no Chromium at ${CHROMIUM}` : false }, () => {
  it('opens offline, lays out every chart, and renders a screenshot', async () => {
    assert.ok(haveChromium, `Chromium is required in CI (expected at ${CHROMIUM}; .ci/run installs it)`);
    const dir = await tempDir();
    const results = path.join(dir, 'results.jsonl');
    await writeResults(results, 3000, { unpricedModel: 'acme-7b' });
    const html = path.join(dir, 'report.html');
    const res = await runCli(['report', results, '--format', 'html', '--out', html, '--by', 'model,day,dataset']);
    assert.equal(res.code, 0, res.stderr);
    const url = pathToFileURL(html).href;

    // The page's own script counts the chart SVGs that got a size in the layout.
    const dom = await chromium(['--dump-dom', url], path.join(dir, 'profile-dom'));
    assert.equal(dom.code, 0, dom.stderr);
    assert.match(dom.stdout, /data-charts-rendered="5"/, 'all five charts laid out');
    assert.match(dom.stdout, /Cost per day/);

    const png = path.join(dir, 'report.png');
    const shot = await chromium(['--window-size=1280,1400', `--screenshot=${png}`, url], path.join(dir, 'profile-shot'));
    assert.equal(shot.code, 0, shot.stderr);
    const bytes = await readFile(png);
    assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
    // A blank page compresses to a few kB; charts, tables and text make it far larger.
    assert.ok((await stat(png)).size > 30_000, `screenshot of ${(await stat(png)).size} bytes`);
  });
});
