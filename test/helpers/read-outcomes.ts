import assert from 'node:assert/strict';
import type { Item, ReadOutcome, Rejection } from '../../src/core/item.js';
import { readInputs, type ReadOptions } from '../../src/inputs/index.js';

/** Everything the readers yield for `inputs`, in order. */
export async function readAll(inputs: string[], opts: ReadOptions): Promise<ReadOutcome[]> {
  const out: ReadOutcome[] = [];
  for await (const outcome of readInputs(inputs, opts)) out.push(outcome);
  return out;
}

/** The item an outcome holds; fails the test, showing the outcome, when it is a rejection. */
export function item(outcome: ReadOutcome | undefined): Item {
  assert.equal(outcome?.type, 'item', `expected an item, got ${JSON.stringify(outcome)}`);
  return (outcome as { item: Item }).item;
}

/** The rejection an outcome holds; fails the test, showing the outcome, when it is an item. */
export function rejection(outcome: ReadOutcome | undefined): Rejection {
  assert.equal(outcome?.type, 'rejected', `expected a rejection, got ${JSON.stringify(outcome)}`);
  return (outcome as { rejection: Rejection }).rejection;
}
