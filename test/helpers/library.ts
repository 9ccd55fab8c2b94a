import { after, before } from 'node:test';
import { startFakeServer, type FakeServer, type FakeServerOptions } from '../../src/fake-server/index.js';
import { openRespool, type CollectResult, type Job, type OutputLine, type Respool, type RunOptions, type RunResult } from '../../src/index.js';
import { readLines, REDIS_URL, tempDir } from './cli.js';
import { recordingLogger } from './logger.js';
import { deletePrefix } from './redis-scan.js';

/** The test key every in-process suite passes to `openRespool` (and the fake server requires when asked to). */
export const TEST_API_KEY = 'sk-library-suite-0123456789';

/** What a suite of in-process pipeline tests shares: the fake server, a temp folder, and one `Respool` on both. */
export interface LibrarySuite {
  fake: FakeServer;
  dir: string;
  rp: Respool;
  /** Every message the library logged so far, at every level (clear it with `messages.length = 0`). */
  messages: string[];
  apiKey: string;
}

export interface LibrarySuiteOptions extends FakeServerOptions {
  /** The key given to `openRespool`. @default TEST_API_KEY */
  apiKey?: string;
}

/**
 * `before`/`after` hooks for the enclosing `describe`: a fake server, a temp folder and one
 * `openRespool` under `prefix` whose relative paths resolve in that folder. After the tests the
 * library is closed, the server stopped and every Redis key under `prefix` deleted.
 */
export function withLibrary(prefix: string, ready: (s: LibrarySuite) => void, opts: LibrarySuiteOptions = {}): void {
  let suite: LibrarySuite | undefined;
  before(async () => {
    const apiKey = opts.apiKey ?? TEST_API_KEY;
    const fake = await startFakeServer(opts);
    const dir = await tempDir();
    const { log, messages } = recordingLogger();
    const rp = await openRespool({ redis: REDIS_URL, prefix, apiKey, cwd: dir, logger: log });
    suite = { fake, dir, rp, messages, apiKey };
    ready(suite);
  });
  after(async () => {
    await suite?.rp.close();
    await suite?.fake.close();
    await deletePrefix(prefix);
  });
}

/** A run's result, the lines of its results file, and the lines `onLine` was handed. */
export interface FinishedRun {
  result: RunResult;
  /** Every line of the results file (a resumed run's earlier lines too). */
  lines: OutputLine[];
  /** The lines this call wrote, in the order `onLine` saw them. */
  written: OutputLine[];
}

/** Runs `job` in process to its end and reads its results file back. */
export async function runJob(rp: Respool, job: Job, opts: RunOptions = {}): Promise<FinishedRun> {
  const written: OutputLine[] = [];
  const onLine = (line: OutputLine) => {
    written.push(line);
    opts.onLine?.(line);
  };
  const result = await rp.run(job, { ...opts, onLine }).promise;
  return { result, lines: await readLines(result.out).catch(() => []), written };
}

/** What `runOnWorkers` saw: the collector's result, each worker's delivered lines, and the results file. */
export interface WorkedRun {
  collected: CollectResult;
  /** Lines each worker delivered, in the order the workers were started. */
  delivered: number[];
  lines: OutputLine[];
}

/**
 * Runs `job` as separate processes would: `rp` enqueues it, `workers` workers each on an
 * `openRespool` of its own (same Redis, prefix, key and folder, as worker processes) work it with
 * `concurrency` calls each, and `rp` collects it; the workers are stopped once the collector ends.
 */
export async function runOnWorkers(s: LibrarySuite, prefix: string, job: Job, opts: { workers: number; concurrency: number }): Promise<WorkedRun> {
  const enqueued = await s.rp.enqueue(job);
  const opened = await Promise.all(Array.from({ length: opts.workers }, () => openRespool({ redis: REDIS_URL, prefix, apiKey: s.apiKey, cwd: s.dir })));
  try {
    const handles = await Promise.all(opened.map((w) => w.work({ name: enqueued.name, concurrency: opts.concurrency })));
    const collected = await s.rp.collect(enqueued.name);
    await Promise.all(handles.map((h) => h.stop()));
    return { collected, delivered: handles.map((h) => h.delivered), lines: await readLines(collected.out) };
  } finally {
    await Promise.all(opened.map((w) => w.close()));
  }
}
