import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scheduleTable } from '../../src/cli/commands/schedule.js';
import { formatTable } from '../../src/cli/table.js';

describe('formatTable', () => {
  it('pads columns to their widest cell: names to the left, figures to the right, no trailing blanks', () => {
    assert.equal(formatTable(['RUN', 'STATE', 'N'], [['a', 'running', '5'], ['long-name', 'ok', '120']], 2), ['RUN        STATE      N', 'a          running    5', 'long-name  ok       120'].join('\n'));
  });
});

describe('scheduleTable', () => {
  it('has a header, and a row per schedule with its pattern or interval, zone, next run and out', () => {
    const table = scheduleTable([
      { name: 'nightly-captions', pattern: '0 2 * * *', every: null, tz: 'Europe/Berlin', next: '2026-12-05T01:00:00.000Z', out: '/data/out/captions-{date}.jsonl' },
      { name: 'try', pattern: null, every: 1000, tz: 'UTC', next: null, out: null },
    ]);
    assert.deepEqual(table.split('\n'), [
      'NAME              SCHEDULE       TZ             NEXT RUN                  OUT',
      'nightly-captions  0 2 * * *      Europe/Berlin  2026-12-05T01:00:00.000Z  /data/out/captions-{date}.jsonl',
      'try               every 1000 ms  UTC            -                         -',
    ]);
  });
});
