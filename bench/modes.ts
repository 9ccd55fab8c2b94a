/**
 * The same 10,000 items through each execution mode (online, flex, batch) against the fake server,
 * side by side: wall time, API calls, batches, cost, and the lines each run wrote (lost or doubled
 * lines are counted, not assumed). The target: batch costs at most 0.51 of online with the bundled
 * prices, and no mode loses or doubles a line.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openRespool } from '../src/index.js';
import { cleanRedisPrefix, printTable, startServer } from './common.js';

const ITEMS = Number(process.env.BENCH_MODE_ITEMS ?? 10_000);
const MODEL = 'gpt-5-mini';
const MODES = ['online', 'flex', 'batch'] as const;

interface ModeFigures {
  mode: string;
  seconds: number;
  lines: number;
  lost: number;
  doubled: number;
  onlineCalls: number;
  batches: number;
  billedTwice: number;
  costUsd: number;
}

async function benchMode(mode: (typeof MODES)[number], dir: string, input: string): Promise<ModeFigures> {
  const server = await startServer(['--latency-ms', '50', '--batch-ms-per-request', '0.5', '--batch-validating-ms', '200', '--batch-finalizing-ms', '200']);
  const prefix = `respool-bench-modes-${process.pid}-${mode}`;
  const out = path.join(dir, `${mode}.jsonl`);
  const rp = await openRespool({ prefix, redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', cwd: dir });
  try {
    const started = performance.now();
    const run = rp.run({ name: `bench-${mode}`, inputs: [input], model: MODEL, base_url: server.url, out, concurrency: 200, mode, batch_poll_ms: 250, batch_max_poll_ms: 1_000 });
    const result = await run.promise;
    const seconds = (performance.now() - started) / 1000;
    if (result.outcome !== 'complete') throw new Error(`${mode}: run ${result.outcome} (${result.stopReason ?? ''})`);
    const lines = (await readFile(out, 'utf8')).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { custom_id: string; cost?: { total?: number } | null });
    const perId = new Map<string, number>();
    for (const l of lines) perId.set(l.custom_id, (perId.get(l.custom_id) ?? 0) + 1);
    const stats = (await (await fetch(`${server.admin}/_stats`)).json()) as { requests: number; billed: Record<string, number>; batch: { batchesCreated: number } };
    return {
      mode,
      seconds,
      lines: lines.length,
      lost: ITEMS - perId.size,
      doubled: [...perId.values()].filter((n) => n > 1).length,
      onlineCalls: stats.requests,
      batches: stats.batch.batchesCreated,
      billedTwice: Object.values(stats.billed).filter((n) => n > 1).length,
      costUsd: lines.reduce((sum, l) => sum + (l.cost?.total ?? 0), 0),
    };
  } finally {
    await rp.close();
    server.process.kill();
    await cleanRedisPrefix(prefix);
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'respool-bench-modes-'));
  const input = path.join(dir, 'items.jsonl');
  await writeFile(input, Array.from({ length: ITEMS }, (_, i) => JSON.stringify({ custom_id: `item-${i}`, prompt: `Label item ${i}: is it positive?` })).join('\n') + '\n');
  try {
    const figures: ModeFigures[] = [];
    for (const mode of MODES) figures.push(await benchMode(mode, dir, input));
    const online = figures.find((f) => f.mode === 'online')!;
    console.log(`\nExecution modes: ${ITEMS.toLocaleString('en-US')} items, ${MODEL}, fake server (50 ms per online call, 0.5 ms per batch request), concurrency 200`);
    printTable([
      ['mode', 'wall s', 'items/s', 'lines', 'lost', 'doubled', 'online calls', 'batches', 'billed twice', 'cost USD', 'cost / online'],
      ...figures.map((f) => [f.mode, f.seconds.toFixed(1), (ITEMS / f.seconds).toFixed(0), String(f.lines), String(f.lost), String(f.doubled), String(f.onlineCalls), String(f.batches), String(f.billedTwice), f.costUsd.toFixed(4), (f.costUsd / online.costUsd).toFixed(3)]),
    ]);
    const batch = figures.find((f) => f.mode === 'batch')!;
    const ratio = batch.costUsd / online.costUsd;
    console.log(`batch/online cost ratio ${ratio.toFixed(3)} (target <= 0.51): ${ratio <= 0.51 ? 'met' : 'NOT met'}; lost or doubled lines: ${figures.reduce((n, f) => n + f.lost + f.doubled, 0)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
