import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBatch, formatBudget, formatMode, type LabeledBudget } from '../../src/cli/commands/status.js';
import { budgetLabel } from '../../src/worker/limits/budget-label.js';

describe('budgetLabel', () => {
  it('is the model and the host (with its port) of the base URL', () => {
    assert.equal(budgetLabel('gpt-4o-mini', 'https://api.example.com/v1'), 'gpt-4o-mini @ api.example.com');
    assert.equal(budgetLabel('m', 'http://127.0.0.1:8787/v1/'), 'm @ 127.0.0.1:8787');
  });

  it('never carries a user or password of the URL', () => {
    const label = budgetLabel('m', 'https://user:s3cret@api.example.com/v1');
    assert.equal(label, 'm @ api.example.com');
  });

  it('says so when the URL cannot be read', () => {
    assert.equal(budgetLabel('m', 'not a url'), 'm @ unknown host');
  });
});

describe('formatBudget', () => {
  const budget: LabeledBudget = {
    key: '28e47f8b1234567890abcdef',
    label: 'gpt-4o-mini @ api.example.com',
    rpm: 500,
    tpm: null,
    maxInFlight: null,
    adaptiveRpm: null,
    announcedRpm: null,
    announcedTpm: null,
    inFlight: 2,
    pausedForMs: 0,
    requests: 10,
    tokens: 100,
    rateLimited: 1,
    pauses: 0,
    recentRpm: 120,
    recentTpm: 9000,
  };

  it('names the budget by model and host, with the short hash to tell apart two keys', () => {
    assert.equal(formatBudget(budget), 'budget gpt-4o-mini @ api.example.com (28e47f8b): 120 req/min (rpm limit 500), 9000 tok/min (no tpm limit), 2 in flight, 1 answered 429');
  });

  it('falls back to the hash for a budget without a label', () => {
    assert.match(formatBudget({ ...budget, label: null }), /^budget 28e47f8b: /);
  });
});

describe('formatMode and formatBatch', () => {
  it('names the job mode, and where an auto run moved and why', () => {
    assert.equal(formatMode({ configured: 'batch', now: null, reason: null }), 'mode batch');
    assert.equal(formatMode({ configured: 'auto', now: 'flex', reason: 'the batch would miss the deadline' }), 'mode auto, now flex (the batch would miss the deadline)');
  });

  it('a provider batch: its id, items, when it was made; one being created and one being cancelled say so', () => {
    assert.equal(formatBatch({ batch_id: 'batch_abc', items: 120, submitted_at: '2026-12-05T02:00:00.000Z', cancel_requested: false }), 'batch batch_abc: 120 items, submitted 2026-12-05T02:00:00.000Z');
    assert.equal(formatBatch({ batch_id: null, items: 3, submitted_at: null, cancel_requested: false }), 'batch (being created): 3 items');
    assert.equal(formatBatch({ batch_id: 'batch_x', items: 1, submitted_at: null, cancel_requested: true }), 'batch batch_x: 1 items, cancel requested');
  });
});
