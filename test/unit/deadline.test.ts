import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDeadline } from '../../src/config/deadline.js';

const NOW = Date.parse('2026-12-04T20:00:00Z');

test('durations count from now', () => {
  assert.equal(parseDeadline('6h', NOW), NOW + 6 * 3_600_000);
  assert.equal(parseDeadline('1h30m', NOW), NOW + 90 * 60_000);
  assert.equal(parseDeadline('1d2h', NOW), NOW + 26 * 3_600_000);
  assert.equal(parseDeadline('45s', NOW), NOW + 45_000);
});

test('ISO times need an offset', () => {
  assert.equal(parseDeadline('2026-12-05T07:00:00+01:00', NOW), Date.parse('2026-12-05T06:00:00Z'));
  assert.equal(parseDeadline('2026-12-05T07:00Z', NOW), Date.parse('2026-12-05T07:00:00Z'));
  assert.equal(parseDeadline('2026-12-05T07:00:00', NOW), null);
});

test('nonsense and zero are refused', () => {
  for (const bad of ['', '0h', 'soon', '6 hours', '-1h', '2026-13-45T07:00:00Z']) assert.equal(parseDeadline(bad, NOW), null, bad);
});
