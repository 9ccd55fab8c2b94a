/**
 * `respool report` over large results files (part of `npm run bench`): generates files of 100,000
 * and 1,000,000 lines in a temp folder, times `respool report` on each in a child process, and prints
 * lines/s and the child's peak RSS side by side, and runs the large file once more with the heap capped
 * at 64 MB: it streams. `BENCH_REPORT_LINES` sets the large size. No thresholds.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeResults } from '../test/helpers/results-gen.js';
import { BIN } from './common.js';

const LARGE = Number(process.env.BENCH_REPORT_LINES ?? 1_000_000);

/** Runs `respool report` in a child that reports its own peak RSS (process.resourceUsage) on exit. */
function timedReport(args: string[], nodeArgs: string[] = []): Promise<{ seconds: number; maxRssKb: number; stdout: string }> {
  const wrapper = `process.on('exit', () => process.stderr.write('\\nRESPOOL_MAX_RSS_KB=' + process.resourceUsage().maxRSS + '\\n'));
process.argv = [process.argv[0], ${JSON.stringify(BIN)}, ...process.argv.slice(1)];
await import(${JSON.stringify(new URL(`file://${BIN}`).href)});`;
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [...nodeArgs, '--input-type=module', '-e', wrapper, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const rss = /RESPOOL_MAX_RSS_KB=(\d+)/.exec(stderr);
      if (code !== 0 || !rss) return reject(new Error(`report exited with ${code}: ${stderr}`));
      resolve({ seconds, maxRssKb: Number(rss[1]), stdout });
    });
  });
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'respool-bench-report-'));
  try {
    const rows: string[][] = [['lines', 'file MB', 'format', 'node heap', 'seconds', 'lines/s', 'peak RSS MB', 'report total']];
    for (const lines of [Math.min(100_000, LARGE), LARGE]) {
      const file = path.join(dir, `results-${lines}.jsonl`);
      const t0 = Date.now();
      await writeResults(file, lines, { unpricedModel: 'acme-7b', routerShare: 0.05 });
      const mb = (await stat(file)).size / 1e6;
      console.log(`generated ${lines} lines (${mb.toFixed(0)} MB) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      // V8 lets the heap grow while there is room, so peak RSS rises a little with the file even when
      // nothing is kept; the last row caps the old space at 64 MB to show the report needs no more.
      const runs: Array<[string, string[]]> = [['json', []], ['html', []]];
      if (lines === LARGE) runs.push(['json', ['--max-old-space-size=64']]);
      for (const [format, nodeArgs] of runs) {
        const r = await timedReport(['report', file, '--format', format, '--by', 'model,run,day,status,dataset'], nodeArgs);
        const total = format === 'json' ? `$${(JSON.parse(r.stdout) as { total: { cost_usd: number } }).total.cost_usd.toFixed(2)}` : '';
        const heap = nodeArgs.length > 0 ? 'max 64 MB' : 'default';
        rows.push([String(lines), mb.toFixed(0), format, heap, r.seconds.toFixed(2), Math.round(lines / r.seconds).toLocaleString('en-US'), (r.maxRssKb / 1024).toFixed(0), total]);
      }
      await rm(file);
    }
    console.log(`\nrespool report (one child process per row, ${os.cpus().length} cores)`);
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) console.log(r.map((c, i) => c.padStart(widths[i]!)).join('  '));
    console.log('peak RSS: the whole report process (Node, the CLI modules, buffers), from process.resourceUsage()');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
