/**
 * Rate-limit scenarios of `npm run bench`: the fake server (own process) enforces a limit over a
 * 10 s sliding window with 100 ms latency; respool is told the limit (a-c) or not (d). Prints the
 * limit, what was achieved between the first and the last call, and the 429 count. No thresholds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BIN, cleanRedisPrefix, startServer } from './common.js';

const WINDOW_MS = 10_000;

interface Stats {
  admitted: number;
  limited: number;
  tokensAdmitted: number;
  arrivals: number[];
  windowPeak: { requests: number; tokens: number };
}

interface Scenario {
  label: string;
  server: string[];
  respool: string[];
  items: number;
  longPrompts?: boolean;
  workers?: number;
  measure: 'rpm' | 'tpm';
  limit: number;
}

const ALL_SCENARIOS: Scenario[] = [
  { label: '(a) rpm told, 1 process', server: ['--rpm', '1200'], respool: ['--rpm', '1200'], items: 500, measure: 'rpm', limit: 1200 },
  { label: '(b) rpm told, 2 worker processes', server: ['--rpm', '1200'], respool: ['--rpm', '1200'], items: 500, workers: 2, measure: 'rpm', limit: 1200 },
  { label: '(c) tpm told, long prompts', server: ['--tpm', '1200000'], respool: ['--tpm', '1200000', '--max-output-tokens', '64'], items: 400, longPrompts: true, measure: 'tpm', limit: 1_200_000 },
  { label: '(d) no limit told (headers)', server: ['--rpm', '1200'], respool: [], items: 500, measure: 'rpm', limit: 1200 },
  { label: '(d2) no limit told, no headers', server: ['--rpm', '1200', '--no-ratelimit-headers'], respool: [], items: 500, measure: 'rpm', limit: 1200 },
];

// BENCH_LIMITS=a,c runs only those scenarios.
const only = process.env.BENCH_LIMITS?.split(',');
const SCENARIOS = only ? ALL_SCENARIOS.filter((s) => only.some((o) => s.label.startsWith(`(${o})`))) : ALL_SCENARIOS;

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'respool-bench-limits-'));
  console.log(`\nrate limits: fake server enforces over a ${WINDOW_MS / 1000} s sliding window, 100 ms latency, concurrency 50`);
  const rows = [['scenario', 'limit', 'achieved', 'ratio', 'calls', '429s', '429 share', 'peak window']];
  for (const s of SCENARIOS) {
    const input = path.join(dir, `${randomUUID()}.jsonl`);
    await writeFile(
      input,
      Array.from({ length: s.items }, (_, i) =>
        JSON.stringify({ custom_id: `i${i}`, prompt: s.longPrompts ? `${i} ${'lorem ipsum dolor sit amet '.repeat(150)}` : `item ${i}` }),
      ).join('\n') + '\n',
    );
    const server = await startServer(['--latency-ms', '100', '--limit-window-ms', String(WINDOW_MS), ...s.server]);
    const run = `limits-${randomUUID().slice(0, 8)}`;
    const out = path.join(dir, `${run}.jsonl`);
    const common = ['--prefix', run, '--log-level', 'error'];
    const job = ['--name', run, '--input', input, '--model', 'bench-model', '--base-url', server.url, '--out', out, '--concurrency', '50', ...s.respool];
    try {
      if (s.workers) {
        const collector = exited(spawnNode([BIN, ...common, 'collect', '--name', run, '--out', out]));
        const workers = Array.from({ length: s.workers }, () => spawnNode([BIN, ...common, 'worker', '--name', run, '--concurrency', '50']));
        await exited(spawnNode([BIN, ...common, 'enqueue', ...job], 'ignore'));
        await collector;
        for (const w of workers) w.kill('SIGTERM');
        await Promise.all(workers.map(exited));
      } else {
        await exited(spawnNode([BIN, ...common, 'run', ...job]));
      }
      const stats = (await (await fetch(`${server.admin}/_stats`)).json()) as Stats;
      const span = (stats.arrivals[stats.arrivals.length - 1]! - stats.arrivals[0]!) / 60_000;
      const achieved = (s.measure === 'rpm' ? stats.admitted : stats.tokensAdmitted) / span;
      const calls = stats.admitted + stats.limited;
      rows.push([
        s.label,
        `${s.limit} ${s.measure}`,
        achieved.toFixed(0),
        (achieved / s.limit).toFixed(3),
        String(calls),
        String(stats.limited),
        `${((100 * stats.limited) / calls).toFixed(1)}%`,
        s.measure === 'rpm' ? `${stats.windowPeak.requests}/${(s.limit * WINDOW_MS) / 60_000}` : `${stats.windowPeak.tokens}/${(s.limit * WINDOW_MS) / 60_000}`,
      ]);
    } finally {
      server.process.kill('SIGTERM');
      await cleanRedisPrefix(run);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
  await rm(dir, { recursive: true, force: true });
}


function spawnNode(args: string[], stdout: 'inherit' | 'ignore' = 'inherit'): ChildProcess {
  return spawn(process.execPath, args, { stdio: ['ignore', stdout, 'inherit'], env: { ...process.env, OPENRESPONSES_API_KEY: 'bench-limits' } });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => (code === 0 || code === null ? resolve() : reject(new Error(`exited with ${code}`))));
  });
}


main().catch((err) => {
  console.error(err);
  process.exit(1);
});
