import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/load.js';
import type { OutputLine } from '../../src/core/output-line.js';
import { redactingLogger, type Logger } from '../../src/core/logger.js';
import { resolveJob } from '../../src/pipeline/job.js';
import { ProgressEvents, type RunProgress } from '../../src/pipeline/progress-events.js';

const line = (status: OutputLine['status']) => ({ status }) as OutputLine;

describe('resolveJob: a job object as a job file holds it', () => {
  const cwd = path.resolve('/data/project');

  it('fills in the defaults and resolves every path against cwd', () => {
    const config = resolveJob({ name: 'j', inputs: 'in/reviews.csv', model: 'm', prompt: '{{text}}', prices: 'prices.json', image_roots: 'shared' }, cwd);
    assert.deepEqual(config.inputs, [path.join(cwd, 'in/reviews.csv')]);
    assert.equal(config.out, path.join(cwd, 'out', 'j.jsonl'));
    assert.equal(config.prices, path.join(cwd, 'prices.json'));
    assert.deepEqual(config.image_roots, [path.join(cwd, 'shared')]);
    assert.equal(config.concurrency, 16);
    assert.equal(config.detail, 'auto');
  });

  it('keeps absolute paths and an explicit out', () => {
    const config = resolveJob({ name: 'j', inputs: ['/elsewhere/a.jsonl'], out: 'results/a.jsonl' }, cwd);
    assert.deepEqual(config.inputs, ['/elsewhere/a.jsonl']);
    assert.equal(config.out, path.join(cwd, 'results/a.jsonl'));
  });

  it('names every bad field in one ConfigError', () => {
    assert.throws(
      () => resolveJob({ name: 'j', inputs: 'a.csv', model: 'm', concurrency: -1, attempts: 'three' as unknown as number, unknown_setting: 1 } as never, cwd),
      (err: unknown) => err instanceof ConfigError && /concurrency/.test(err.message) && /attempts/.test(err.message) && /unknown_setting/.test(err.message),
    );
  });

  it('refuses what is not an object', () => {
    assert.throws(() => resolveJob('job.yaml' as never, cwd), ConfigError);
  });
});

describe('ProgressEvents: the figures onProgress gets', () => {
  it('counts the run as a whole: earlier lines plus the ones written here, by status', () => {
    const seen: RunProgress[] = [];
    const p = new ProgressEvents((e) => seen.push(e));
    p.resumeFrom({ written: 10, failed: 2, rejected: 1 });
    p.onLines([line('completed'), line('failed'), line('rejected'), line('completed')]);
    assert.deepEqual(seen.at(-1), { written: 14, total: null, totalExact: false, failed: 3, rejected: 2, rateLimited: 0 });
  });

  it('does not count twice the lines that were written before the run was looked at', () => {
    const seen: RunProgress[] = [];
    const p = new ProgressEvents((e) => seen.push(e));
    p.onLines([line('completed'), line('failed')]);
    // The run's figures, read after those two lines, include them.
    p.resumeFrom({ written: 7, failed: 1, rejected: 0 });
    p.onLines([line('completed')]);
    assert.equal(seen.at(-1)?.written, 8);
    assert.equal(seen.at(-1)?.failed, 1);
  });

  it('shows the count made ahead of the reader until the exact total, then the exact total', () => {
    const seen: RunProgress[] = [];
    const p = new ProgressEvents((e) => seen.push(e));
    p.estimateTotal(120);
    p.onLines([line('completed')]);
    assert.deepEqual([seen.at(-1)?.total, seen.at(-1)?.totalExact], [120, false]);
    p.setTotal(117);
    assert.deepEqual([seen.at(-1)?.total, seen.at(-1)?.totalExact], [117, true]);
    p.countRateLimited(() => 5);
    p.onLines([line('completed')]);
    assert.equal(seen.at(-1)?.rateLimited, 5);
    p.stop();
    assert.equal(p.signal.aborted, true);
  });
});

describe('redactingLogger', () => {
  it('takes every secret out of every level, and leaves short values alone', () => {
    const said: string[] = [];
    const keep = (m: string) => void said.push(m);
    const base: Logger = { error: keep, warn: keep, info: keep, debug: keep };
    const log = redactingLogger(base, ['sk-secret-1234', 'pw-5678', 'ab', undefined]);
    log.error('key sk-secret-1234 refused');
    log.warn('redis://:pw-5678@host');
    log.info('ab stays');
    log.debug('sk-secret-1234sk-secret-1234');
    assert.deepEqual(said, ['key [redacted] refused', 'redis://:[redacted]@host', 'ab stays', '[redacted][redacted]']);
  });
});
