import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OutputLine } from '../../src/core/output-line.js';
import { createLogger } from '../../src/cli/logger.js';
import { Progress } from '../../src/cli/progress.js';
import { sleep } from '../../src/core/sleep.js';
import { Screen } from '../helpers/screen.js';

function line(status: OutputLine['status'], costUsd = 0.001): OutputLine {
  return { custom_id: `x-${Math.random()}`, status, cost: { total: costUsd } } as unknown as OutputLine;
}

/** Sends what the process writes to stderr (where the logger writes) to `sink` until restored. */
function captureStderr(sink: { write(chunk: string | Uint8Array): boolean }): () => void {
  const original = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => sink.write(chunk)) as typeof process.stderr.write;
  return () => {
    process.stderr.write = original;
  };
}

describe('Progress on a terminal', () => {
  it('shows a bar, and log lines print above it, never inside it', async () => {
    const screen = new Screen(120);
    const restore = captureStderr(screen);
    const log = createLogger();
    const progress = new Progress(log, { stream: screen as unknown as NodeJS.WriteStream, mode: 'terminal' });
    try {
      progress.setTotal(4);
      progress.start();
      progress.onLines([line('completed'), line('failed')]);
      // Long enough for the display to have drawn its bar before the first log line.
      await sleep(600);
      log.info('first message');
      await sleep(50);
      log.warn('second message');
      await sleep(300);
      progress.stop();
      log.info('after the display');
      await sleep(50);
    } finally {
      restore();
    }
    const shown = screen.text();
    assert.equal(shown.length, 4, shown.join('\n'));
    assert.match(shown[0]!, /^\d\d:\d\d:\d\d info {2}first message$/);
    assert.match(shown[1]!, /^\d\d:\d\d:\d\d warn {2}second message$/);
    assert.match(shown[2]!, /^\[█+░+\] +50% {2}2\/4 {2}.* {2}failed 1 {2}429s 0 {2}\$0\.002$/);
    assert.match(shown[3]!, /^\d\d:\d\d:\d\d info {2}after the display$/);
  });
});

describe('Progress without a terminal', () => {
  it('logs a plain line every logEveryMs, and a last one when it stops', async () => {
    const written: string[] = [];
    const restore = captureStderr({ write: (c) => written.push(String(c)) > 0 });
    const progress = new Progress(createLogger(), { mode: 'plain', logEveryMs: 100 });
    try {
      progress.estimateTotal(10);
      progress.start();
      progress.onLines([line('completed'), line('rejected')]);
      await sleep(250);
      progress.setTotal(8);
      progress.stop();
      await sleep(50);
    } finally {
      restore();
    }
    const lines = written.join('').split('\n').filter(Boolean);
    assert.ok(lines.length >= 2, lines.join('\n'));
    assert.match(lines[0]!, /info {2}progress 2\/~10 \(20%\), .* lines\/s, elapsed \d+s, ETA .*, failed 0, rejected 1, 429s 0, cost \$0\.002$/);
    assert.match(lines.at(-1)!, /info {2}progress 2\/8 \(25%\), /);
    assert.ok(lines.every((l) => !l.includes('█')));
  });

  it('with --log-json, logs progress events with structured fields', async () => {
    const written: string[] = [];
    const restore = captureStderr({ write: (c) => written.push(String(c)) > 0 });
    const progress = new Progress(createLogger({ json: true }), { json: true, logEveryMs: 100 });
    try {
      assert.equal(progress.mode, 'json');
      progress.resumeFrom({ written: 5, failed: 1, rejected: 0 });
      progress.setTotal(20);
      progress.start();
      progress.onLines([line('completed', 0.5), line('failed', 0)]);
      progress.countRateLimited(() => 7);
      await sleep(250);
      progress.stop();
      await sleep(50);
    } finally {
      restore();
    }
    const events = written
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(events.length >= 2);
    const last = events.at(-1)!;
    assert.equal(last.message, 'progress');
    assert.equal(last.level, 'info');
    assert.equal(last.event, 'progress');
    assert.equal(last.done, 7);
    assert.equal(last.total, 20);
    assert.equal(last.total_estimated, false);
    assert.equal(last.failed, 2);
    assert.equal(last.rate_limited, 7);
    assert.equal(last.cost, 0.5);
    assert.equal(last.resumed_from, 5);
    assert.equal(typeof last.elapsed_s, 'number');
    assert.ok('rate' in last && 'eta_s' in last);
  });
});
