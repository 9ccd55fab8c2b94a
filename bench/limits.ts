/**
 * Rate-limit scenarios of `npm run bench`: the fake server (own process) enforces a limit over a
 * 10 s sliding window with 100 ms latency; respool is told the limit (a-c) or not (d). Prints the
 * limit, what was achieved between the first and the last call, and the 429 count. Then (e) sporadic
 * 429s: a server with no limit that answers a share of calls 429 with `Retry-After: 1`, against the
 * same server without them. No thresholds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BIN, cleanRedisPrefix, printTable, startServer } from './common.js';

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
  if (rows.length > 1) printTable(rows);
  if (!only || only.includes('e')) await sporadic(dir);
  await rm(dir, { recursive: true, force: true });
}

// Enough items that the run lasts several seconds: any item answered 429 in the run's last second
// adds its Retry-After (1 s) to the run, whatever respool does, which would dominate a 2 s run.
const SPORADIC_ITEMS = Number(process.env.BENCH_SPORADIC_ITEMS ?? 3000);
const SPORADIC_RATE_429 = 0.05;

/**
 * (e) No limit anywhere; the server answers a random 5 % of calls 429 with `Retry-After: 1` (as
 * overloaded APIs do). items/s is counted from the first call the server saw to the end of `respool
 * run`, so process start-up is left out of both. BENCH_SPORADIC_ITEMS sets the items (default 3000).
 */
async function sporadic(dir: string): Promise<void> {
  const input = path.join(dir, `${randomUUID()}.jsonl`);
  await writeFile(input, Array.from({ length: SPORADIC_ITEMS }, (_, i) => JSON.stringify({ custom_id: `i${i}`, prompt: `item ${i}` })).join('\n') + '\n');
  const clean = await sporadicRun(dir, input, []);
  const faulty = await sporadicRun(dir, input, ['--rate-429', String(SPORADIC_RATE_429), '--retry-after', '1', '--seed', '7']);
  console.log(`\n(e) sporadic 429s: no limit, ${SPORADIC_ITEMS} items, 100 ms latency, concurrency 50, ${SPORADIC_RATE_429 * 100} % of calls answered 429 with Retry-After: 1`);
  printTable([
    ['server', 'items/s', 'seconds', 'calls', '429s', 'lines', 'ratio'],
    ['no 429s', clean.rate.toFixed(0), clean.seconds.toFixed(1), String(clean.calls), String(clean.answered429), String(clean.lines), '1.000'],
    [`${SPORADIC_RATE_429 * 100} % 429s`, faulty.rate.toFixed(0), faulty.seconds.toFixed(1), String(faulty.calls), String(faulty.answered429), String(faulty.lines), (faulty.rate / clean.rate).toFixed(3)],
  ]);
}

async function sporadicRun(dir: string, input: string, serverFlags: string[]): Promise<{ rate: number; seconds: number; calls: number; answered429: number; lines: number }> {
  const server = await startServer(['--latency-ms', '100', ...serverFlags]);
  const run = `sporadic-${randomUUID().slice(0, 8)}`;
  const out = path.join(dir, `${run}.jsonl`);
  try {
    await exited(spawnNode([BIN, '--prefix', run, '--log-level', 'error', 'run', '--name', run, '--input', input, '--model', 'bench-model', '--base-url', server.url, '--out', out, '--concurrency', '50']));
    const end = Date.now();
    const stats = (await (await fetch(`${server.admin}/_stats`)).json()) as { requests: number; byStatus: Record<string, number>; arrivals: number[] };
    const seconds = (end - stats.arrivals[0]!) / 1000;
    const lines = (await readFile(out, 'utf8')).split('\n').filter(Boolean).length;
    return { rate: lines / seconds, seconds, calls: stats.requests, answered429: stats.byStatus['429'] ?? 0, lines };
  } finally {
    server.process.kill('SIGTERM');
    await cleanRedisPrefix(run);
  }
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
