/**
 * Large photos at detail low, against the fake server with latency: bytes uploaded and items/s with
 * `resize: off` (the photos as they are) and `resize: auto` (scaled to 512x512 in the worker), side by
 * side. The photos are made by code: BENCH_PHOTOS of them (default 40), BENCH_PHOTO_SIZE (default
 * 4000x3000), BENCH_IMAGE_LATENCY_MS of latency (default 200), BENCH_IMAGE_CONCURRENCY (default 8).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BIN, cleanRedisPrefix, startServer, printTable } from './common.js';
import { writePhoto } from '../test/helpers/photos.js';
import type { FakeStats } from '../src/fake-server/types.js';

const photos = Number(process.env.BENCH_PHOTOS ?? 40);
const [width, height] = (process.env.BENCH_PHOTO_SIZE ?? '4000x3000').split('x').map(Number) as [number, number];
const latencyMs = Number(process.env.BENCH_IMAGE_LATENCY_MS ?? 200);
const concurrency = Number(process.env.BENCH_IMAGE_CONCURRENCY ?? 8);

const dir = await mkdtemp(path.join(os.tmpdir(), 'respool-bench-images-'));
const folder = path.join(dir, 'photos');
await mkdir(folder);
let onDisk = 0;
process.stdout.write(`images: making ${photos} photos of ${width}x${height} ... `);
for (let i = 0; i < photos; i++) onDisk += await writePhoto(path.join(folder, `photo-${String(i).padStart(3, '0')}.jpg`), { width, height, seed: i + 1 });
console.log(`${(onDisk / 1e6).toFixed(1)} MB on disk`);

const server = await startServer(['--latency-ms', String(latencyMs)]);
const rows: string[][] = [['resize', 'items', 'completed', 'MB uploaded', 'bytes/item', 'sent size', 'seconds', 'items/s']];
try {
  for (const resize of ['off', 'auto'] as const) {
    await fetch(`${server.admin}/_reset`, { method: 'POST' });
    const prefix = `bench-img-${randomUUID().slice(0, 8)}`;
    const job = path.join(dir, `job-${resize}.json`);
    const out = path.join(dir, `out-${resize}.jsonl`);
    await writeFile(job, JSON.stringify({ name: `images-${resize}`, inputs: [folder], model: 'bench-model', detail: 'low', resize, concurrency, base_url: server.url, out }));
    const t0 = process.hrtime.bigint();
    await spawnNode([BIN, '--prefix', prefix, '--log-level', 'error', 'run', job]);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    await cleanRedisPrefix(prefix);
    const stats = (await (await fetch(`${server.admin}/_stats`)).json()) as FakeStats;
    const lines = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { status: string });
    const sizes = [...new Set(stats.images.map((i) => `${i.width}x${i.height}`))].join(' ');
    rows.push([
      resize,
      String(lines.length),
      String(lines.filter((l) => l.status === 'completed').length),
      (stats.requestBytes / 1e6).toFixed(1),
      String(Math.round(stats.requestBytes / Math.max(1, stats.requests))),
      sizes,
      seconds.toFixed(2),
      (lines.length / seconds).toFixed(1),
    ]);
  }
} finally {
  server.process.kill();
  await rm(dir, { recursive: true, force: true });
}
console.log(`\nimages: ${photos} photos of ${width}x${height}, detail low, ${latencyMs} ms latency, concurrency ${concurrency}`);
printTable(rows);

function spawnNode(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`respool exited with ${code}`))));
  });
}

