/**
 * `npm run bench` (scale part): throughput with 1, 2 and 4 `respool worker` processes when the run is
 * latency-bound, and a 1,000,000-row CSV enqueued with a cap while workers drain it, with the
 * producer's peak RSS and Redis memory during and after the run. Everything runs as separate
 * processes against a redis-server of the benchmark's own (AOF on, like a deployment) and the fake
 * server in its own process. Prints figures; asserts nothing.
 *
 * BENCH_SCALE_ITEMS (4000 at 200 ms; scaled down for longer latencies, at least 2000),
 * BENCH_SCALE_CONCURRENCY (50 per worker), BENCH_SCALE_LATENCY_MS ("200,1000"),
 * BENCH_SCALE_WORKERS ("1,2,4"), BENCH_ENQUEUE_ROWS (1000000), BENCH_DRAIN_ROWS (20000),
 * BENCH_ENQUEUE_MAX_QUEUED (2000),
 * BENCH_SCALE=throughput,enqueue picks parts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { BIN, startServer, printTable } from './common.js';
import { claim, markWritten } from '../src/queue/ledger.js';
import { freePort } from '../src/queue/embedded-redis.js';
import { bullPrefix, jobIdFor, runKeys } from '../src/queue/keys.js';
import { Queue } from 'bullmq';

const ITEMS = Number(process.env.BENCH_SCALE_ITEMS ?? 4000);
const CONCURRENCY = Number(process.env.BENCH_SCALE_CONCURRENCY ?? 50);
// 200 ms as asked of the scale-out; 1000 ms too, where even a busy machine stays latency-bound.
const LATENCIES = (process.env.BENCH_SCALE_LATENCY_MS ?? '200,1000').split(',').map(Number);
const WORKER_COUNTS = (process.env.BENCH_SCALE_WORKERS ?? '1,2,4').split(',').map(Number);
const ROWS = Number(process.env.BENCH_ENQUEUE_ROWS ?? 1_000_000);
const MAX_QUEUED = Number(process.env.BENCH_ENQUEUE_MAX_QUEUED ?? 2000);
const DRAIN_ROWS = Number(process.env.BENCH_DRAIN_ROWS ?? 20_000);
const PARTS = (process.env.BENCH_SCALE ?? 'throughput,enqueue').split(',');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  if (spawnSync('which', ['redis-server']).status !== 0) {
    console.log('scale bench: skipped (needs redis-server in PATH for a Redis of its own)');
    return;
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'respool-scale-'));
  const redis = await startRedis(dir);
  const load = os.loadavg()[0]!.toFixed(1);
  console.log(`\nrespool scale bench: ${os.cpus().length} cores (load average ${load} at start), own redis-server on ${redis.url} (AOF everysec), fake server in its own process`);
  try {
    if (PARTS.includes('throughput')) for (const latency of LATENCIES) await throughput(dir, redis.url, latency, Math.max(2000, Math.round((ITEMS * 200) / latency)));
    if (PARTS.includes('enqueue')) await bigEnqueue(dir, redis.url);
  } finally {
    redis.process.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

/** N worker processes on one pre-filled run of `items`; the rate is taken between 10 % and 90 % of the lines. */
async function throughput(dir: string, redisUrl: string, latencyMs: number, items: number): Promise<void> {
  const server = await startServer(['--latency-ms', String(latencyMs)]);
  const input = path.join(dir, 'prompts.jsonl');
  await writeFile(input, Array.from({ length: items }, (_, i) => JSON.stringify({ custom_id: `item-${i}`, prompt: `Summarise item number ${i} in one word.` })).join('\n') + '\n');
  const rows: string[][] = [['workers', 'concurrency each', 'items/s (10-90 %)', 'ratio to 1 worker', 'wall s (resume to collect exit)', 'lines', 'server calls', 'CPU s: workers / collector / fake server / redis', 'CPU use of 2 cores', 'workers waiting for a CPU, s']];
  const redisPid = await redisPidOf(redisUrl);
  let base = 0;
  try {
    for (const n of WORKER_COUNTS) {
      const run = `scale-${latencyMs}-${n}`;
      const out = path.join(dir, `${run}.jsonl`);
      await fetch(`${server.admin}/_reset`, { method: 'POST' });
      const env = { REDIS_URL: redisUrl, OPENRESPONSES_API_KEY: 'sk-bench-local' };
      await exitOf(cli(['enqueue', '--name', run, '--input', input, '--model', 'bench-model', '--base-url', server.url, '--out', out], env));
      // Every worker starts on the same signal: the queue stays paused until all N are connected, so
      // a worker whose Node start is slow on a busy machine does not lower the rate.
      const conn = new Redis(redisUrl, { maxRetriesPerRequest: null });
      const queue = new Queue(run, { connection: conn, prefix: bullPrefix() });
      await queue.pause();
      const workers = Array.from({ length: n }, () => cli(['worker', '--name', run, '--concurrency', String(CONCURRENCY)], env));
      while ((await queue.getWorkersCount()) < n) await sleep(100);
      const t0 = Date.now();
      await queue.resume();
      await queue.close();
      await conn.quit();
      const collector = cli(['collect', '--name', run], env);
      const cpu = new CpuMeter({ workers: workers.map((w) => w.pid!), collector: [collector.pid!], server: [server.process.pid!], redis: [redisPid] });
      const marks = await watchLines(out, items, collector, () => cpu.sample());
      const wall = (Date.now() - t0) / 1000;
      cpu.sample();
      for (const w of workers) w.kill('SIGTERM');
      await Promise.all(workers.map((w) => exitOf(w, true)));
      const rate = (0.8 * items) / ((marks.t90 - marks.t10) / 1000);
      if (n === WORKER_COUNTS[0]) base = rate;
      const stats = (await (await fetch(`${server.admin}/_stats`)).json()) as { requests: number };
      const used = cpu.seconds();
      const totalCpu = used.workers! + used.collector! + used.server! + used.redis!;
      rows.push([
        String(n), String(CONCURRENCY), rate.toFixed(0), (rate / base).toFixed(2), wall.toFixed(1), String(await lineCount(out)), String(stats.requests),
        [used.workers!, used.collector!, used.server!, used.redis!].map((x) => x.toFixed(1)).join(' / '),
        `${((100 * totalCpu) / (wall * os.cpus().length)).toFixed(0)} %`,
        cpu.workerWaitSeconds().toFixed(1),
      ]);
    }
  } finally {
    server.process.kill('SIGTERM');
  }
  console.log(`\n(scale) throughput at ${latencyMs} ms latency, ${items} items, pre-filled queue; latency-bound ceiling ${((CONCURRENCY * 1000) / latencyMs).toFixed(0)} items/s per worker`);
  printTable(rows);
}

/**
 * (b1) A CSV of ROWS rows enqueued by `respool enqueue` alone (nothing drains it, so no cap): rows/s,
 * the producer's peak RSS, Redis used_memory at peak and per queued item.
 * (b2) DRAIN_ROWS rows enqueued with --max-queued while two workers (0 ms latency) and a collector
 * drain them: Redis used_memory while the run goes and after it completed.
 * (b3) The ledger alone with ROWS items: bytes per item in flight, and per item written.
 */
async function bigEnqueue(dir: string, redisUrl: string): Promise<void> {
  const csv = path.join(dir, 'big.csv');
  await writeCsv(csv, ROWS);
  const server = await startServer(['--latency-ms', '0']);
  const redis = new Redis(redisUrl);
  const env = { REDIS_URL: redisUrl, OPENRESPONSES_API_KEY: 'sk-bench-local' };
  const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
  const enqueueArgs = (run: string, file: string, extra: string[]) => ['enqueue', '--name', run, '--input', file, '--id-column', 'id', '--prompt', 'Label this review: {{text}}', '--model', 'bench-model', '--base-url', server.url, '--out', path.join(dir, `${run}.jsonl`), ...extra];
  try {
    // (b1)
    await redis.flushall(); // the benchmark's own server
    const before = await usedMemory();
    const t0 = Date.now();
    const producer = cli(enqueueArgs('big', csv, []), env);
    let peakRss = 0;
    let peakRedis = 0;
    while (producer.exitCode === null) {
      peakRss = Math.max(peakRss, rssOf(producer.pid));
      peakRedis = Math.max(peakRedis, await usedMemory());
      await sleep(250);
    }
    await exitOf(producer);
    const seconds = (Date.now() - t0) / 1000;
    peakRedis = Math.max(peakRedis, await usedMemory());
    const csvMb = (await stat(csv)).size / 1e6;
    console.log(`\n(scale b1) ${ROWS} CSV rows (${csvMb.toFixed(0)} MB) enqueued by respool enqueue alone (no workers, so no cap)`);
    printTable([
      ['measure', 'value'],
      ['rows/s (process start to exit)', (ROWS / seconds).toFixed(0)],
      ['producer peak RSS (VmHWM, sampled every 250 ms)', mb(peakRss)],
      ['Redis used_memory at peak, above empty', mb(peakRedis - before)],
      ['Redis bytes per queued item (job + ledger entry)', ((peakRedis - before) / ROWS).toFixed(0)],
    ]);
    await redis.flushall();

    // (b2)
    const drainCsv = path.join(dir, 'drain.csv');
    await writeCsv(drainCsv, DRAIN_ROWS);
    const empty = await usedMemory();
    const t1 = Date.now();
    const workers = [0, 1].map(() => cli(['worker', '--name', 'drain', '--concurrency', '100'], env));
    const collector = cli(['collect', '--name', 'drain'], env);
    const capped = cli(enqueueArgs('drain', drainCsv, ['--max-queued', String(MAX_QUEUED)]), env);
    let cappedRss = 0;
    let drainPeak = 0;
    const quarters: string[] = [];
    let next = 0.25;
    let producerSeconds = 0;
    const producerExit = exitOf(capped).then(() => (producerSeconds = (Date.now() - t1) / 1000));
    while (collector.exitCode === null) {
      cappedRss = Math.max(cappedRss, rssOf(capped.pid));
      const mem = await usedMemory();
      drainPeak = Math.max(drainPeak, mem);
      const lines = await lineCount(path.join(dir, 'drain.jsonl'));
      if (next < 1 && lines >= next * DRAIN_ROWS) {
        quarters.push(`${Math.round(next * 100)} %: ${mb(mem - empty)}`);
        next += 0.25;
      }
      await sleep(250);
    }
    await exitOf(collector);
    await producerExit;
    const total = (Date.now() - t1) / 1000;
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => exitOf(w, true)));
    const after = await usedMemory();
    console.log(`\n(scale b2) ${DRAIN_ROWS} rows enqueued with --max-queued ${MAX_QUEUED} while 2 workers (concurrency 100, 0 ms latency) and a collector drain them`);
    printTable([
      ['measure', 'value'],
      ['rows/s, producer (bound by the drain)', (DRAIN_ROWS / producerSeconds).toFixed(0)],
      ['rows/s, whole run (start to last line written)', (DRAIN_ROWS / total).toFixed(0)],
      ['producer peak RSS', mb(cappedRss)],
      ['Redis used_memory at peak, above empty', mb(drainPeak - empty)],
      ['Redis used_memory above empty, by lines written', quarters.join('; ')],
      ['Redis used_memory after completion, above empty', mb(after - empty)],
      ['lines written (ledger)', String(await redis.get('respool:run:drain:written'))],
    ]);
    await redis.flushall();

    // (b3)
    const keys = runKeys('ledger-only');
    const emptyAgain = await usedMemory();
    const batch = 1000;
    for (let i = 0; i < ROWS; i += batch) {
      const ids = Array.from({ length: Math.min(batch, ROWS - i) }, (_, k) => ({ id: jobIdFor('ledger-only', `r${i + k}`), source: `${csv}:${i + k + 2}` }));
      await claim(redis, keys, ids);
    }
    const claimed = (await usedMemory()) - emptyAgain;
    for (let i = 0; i < ROWS; i += batch) {
      const ids = Array.from({ length: Math.min(batch, ROWS - i) }, (_, k) => jobIdFor('ledger-only', `r${i + k}`));
      await markWritten(redis, keys, ids);
    }
    const writtenMem = (await usedMemory()) - emptyAgain;
    const buckets = await writtenSetBytes(redis, `${keys.ledger}:w:*`);
    console.log(`\n(scale b3) the ledger alone, ${ROWS} items with sources like ${csv}:123456`);
    printTable([
      ['measure', 'value'],
      ['in flight (claimed), bytes per item', (claimed / ROWS).toFixed(1)],
      ['written, bytes per item (used_memory)', (writtenMem / ROWS).toFixed(1)],
      ['written set: keys, MEMORY USAGE', `${buckets.keys} keys, ${mb(buckets.bytes)} (${(buckets.bytes / ROWS).toFixed(1)} B per item)`],
    ]);
    await redis.flushall();
  } finally {
    server.process.kill('SIGTERM');
    await redis.quit();
  }
}

async function writtenSetBytes(redis: Redis, pattern: string): Promise<{ keys: number; bytes: number }> {
  let cursor = '0';
  let keys = 0;
  let bytes = 0;
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 2000);
    cursor = next;
    const pipe = redis.pipeline();
    for (const k of found) pipe.memory('USAGE', k, 'SAMPLES', '0');
    for (const [, v] of (await pipe.exec()) ?? []) bytes += Number(v ?? 0);
    keys += found.length;
  } while (cursor !== '0');
  return { keys, bytes };
}

async function writeCsv(file: string, rows: number): Promise<void> {
  const ws = createWriteStream(file);
  ws.write('id,text\n');
  for (let i = 0; i < rows; i++) {
    if (!ws.write(`r${i},"Review number ${i}: the product did what it said, mostly."\n`)) await once(ws, 'drain');
  }
  ws.end();
  await once(ws, 'finish');
}

function cli(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [BIN, '--log-level', 'error', ...args], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } });
}

function exitOf(child: ChildProcess, anyCode = false): Promise<void> {
  if (child.exitCode !== null) return child.exitCode === 0 || anyCode ? Promise.resolve() : Promise.reject(new Error(`exited with ${child.exitCode}`));
  return new Promise((resolve, reject) => child.once('exit', (code) => (code === 0 || anyCode ? resolve() : reject(new Error(`respool exited with ${code}`)))));
}

async function watchLines(out: string, total: number, collector: ChildProcess, onTick: () => void = () => {}): Promise<{ t10: number; t90: number }> {
  let t10 = 0;
  let t90 = 0;
  while (collector.exitCode === null || t90 === 0) {
    onTick();
    const n = await lineCount(out);
    if (!t10 && n >= 0.1 * total) t10 = Date.now();
    if (!t90 && n >= 0.9 * total) t90 = Date.now();
    if (collector.exitCode !== null && !t90) throw new Error(`collector exited with ${collector.exitCode} at ${n} lines`);
    await sleep(50);
  }
  return { t10, t90 };
}

async function lineCount(file: string): Promise<number> {
  const buf = await readFile(file).catch(() => Buffer.alloc(0));
  let n = 0;
  for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) n++;
  return n;
}

function rssOf(pid: number | undefined): number {
  if (!pid) return 0;
  const r = spawnSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' });
  const m = /VmHWM:\s+(\d+) kB/.exec(r.stdout ?? '');
  return m ? Number(m[1]) * 1024 : 0;
}

/** CPU seconds (user + system) per group of processes, from /proc; the last sample before each exits. */
class CpuMeter {
  private readonly last = new Map<number, number>();
  constructor(private readonly groups: Record<string, number[]>) {
    this.sample();
  }
  private readonly first = new Map<number, number>();
  private readonly waits = new Map<number, number>();
  sample(): void {
    for (const pids of Object.values(this.groups)) {
      for (const pid of pids) {
        const wait = runQueueWaitNs(pid);
        if (wait !== null) this.waits.set(pid, wait);
        const t = cpuTicks(pid);
        if (t === null) continue;
        if (!this.first.has(pid)) this.first.set(pid, t);
        this.last.set(pid, t);
      }
    }
  }
  /** Seconds the workers were ready to run but waited for a CPU (the kernel's schedstat). */
  workerWaitSeconds(): number {
    return this.groups.workers!.reduce((sum, pid) => sum + (this.waits.get(pid) ?? 0), 0) / 1e9;
  }

  seconds(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, pids] of Object.entries(this.groups)) {
      // Processes started for this row count from 0; the shared ones (server, Redis) from the first sample.
      out[name] = pids.reduce((sum, pid) => sum + ((this.last.get(pid) ?? 0) - (name === 'server' || name === 'redis' ? (this.first.get(pid) ?? 0) : 0)), 0) / 100;
    }
    return out;
  }
}

function runQueueWaitNs(pid: number): number | null {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]);
  } catch {
    return null;
  }
}

function cpuTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

async function redisPidOf(url: string): Promise<number> {
  const r = new Redis(url);
  const pid = Number(/process_id:(\d+)/.exec(await r.info('server'))![1]);
  await r.quit();
  return pid;
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

async function startRedis(dir: string): Promise<{ url: string; process: ChildProcess }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: null });
  probe.on('error', () => {});
  await probe.connect().catch(() => {});
  await probe.ping();
  probe.disconnect();
  return { url, process: child };
}


main().catch((err) => {
  console.error(err);
  process.exit(1);
});
