/**
 * `npm run bench`: respool measured side by side with a plain p-limit + fetch loop over the same items,
 * at the same concurrency, against the project's fake server running in its own process. Prints
 * items/s for both and their ratio; nothing here asserts a threshold.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BIN, ROOT, cleanRedisPrefix, startServer, printTable } from './common.js';

const ITEMS = Number(process.env.BENCH_ITEMS ?? 20_000);
// Each scenario runs this many rounds, plain and respool alternating, so that a noisy moment on a
// shared machine does not decide the ratio; the table shows every round and the median ratio.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

interface Scenario {
  label: string;
  latencyMs: number;
  concurrency: number;
}

const SCENARIOS: Scenario[] = [
  { label: '(a) 0 ms latency, concurrency 50', latencyMs: 0, concurrency: 50 },
  { label: '(b) 200 ms latency, concurrency 200', latencyMs: 200, concurrency: 200 },
];

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'respool-bench-'));
  const input = path.join(dir, 'prompts.jsonl');
  await writeFile(
    input,
    Array.from({ length: ITEMS }, (_, i) => JSON.stringify({ custom_id: `item-${i}`, prompt: `Summarise item number ${i} in one word.` })).join('\n') + '\n',
  );
  console.log(`respool bench: ${ITEMS} prompts, fake server in its own process, Redis ${process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'}, ${os.cpus().length} cores`);
  const rows: string[][] = [['scenario', 'round', 'plain loop items/s', 'respool items/s', 'ratio', 'respool lines', 'server calls']];
  const summary: string[][] = [['scenario', 'median ratio']];
  for (const s of SCENARIOS) {
    const server = await startServer(['--latency-ms', String(s.latencyMs)]);
    const ratios: number[] = [];
    try {
      for (let round = 1; round <= ROUNDS; round++) {
        const plainOut = path.join(dir, `plain-${s.latencyMs}-${round}.jsonl`);
        await fetch(`${server.admin}/_reset`, { method: 'POST' });
        const plain = await timed(() => spawnNode([path.join(ROOT, 'bench', 'plain-loop.mjs'), input, server.url, String(s.concurrency), plainOut]));
        await fetch(`${server.admin}/_reset`, { method: 'POST' });
        const run = `bench-${randomUUID().slice(0, 8)}`;
        const out = path.join(dir, `${run}.jsonl`);
        const respool = await timed(() =>
          spawnNode([BIN, '--prefix', run, '--log-level', 'error', 'run', '--input', input, '--model', 'bench-model', '--base-url', server.url, '--concurrency', String(s.concurrency), '--name', run, '--out', out], {
            OPENRESPONSES_API_KEY: 'sk-bench-local',
          }),
        );
        const stats = (await (await fetch(`${server.admin}/_stats`)).json()) as { requests: number };
        const lines = (await readFile(out, 'utf8')).split('\n').filter(Boolean).length;
        const plainRate = ITEMS / plain;
        const respoolRate = ITEMS / respool;
        ratios.push(respoolRate / plainRate);
        rows.push([s.label, String(round), plainRate.toFixed(0), respoolRate.toFixed(0), (respoolRate / plainRate).toFixed(3), String(lines), String(stats.requests)]);
        await cleanRedisPrefix(run);
        await rm(plainOut, { force: true });
        await rm(out, { force: true });
      }
    } finally {
      server.process.kill('SIGTERM');
    }
    summary.push([s.label, median(ratios).toFixed(3)]);
  }
  printTable(rows);
  console.log('');
  printTable(summary);
  await rm(dir, { recursive: true, force: true });
}


function spawnNode(args: string[], env: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(args[0]!)} exited with ${code}`))));
  });
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}


function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}


main().catch((err) => {
  console.error(err);
  process.exit(1);
});
