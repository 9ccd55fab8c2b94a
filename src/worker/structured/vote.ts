/**
 * The majority of several sampled answers, and how strongly they agree. Pure.
 *
 * - Single label: the label given most often; a tie goes to the label listed first in `labels`.
 * - Multi-label: every label chosen by more than half of the valid samples, in `labels` order;
 *   agreement is the share of valid samples whose set of labels is exactly that set.
 * - Any other schema: the answer given most often, comparing answers as JSON with sorted keys; a
 *   tie goes to the answer given first.
 *
 * Invalid samples (null in `answers`) take no part; agreement is votes for the majority divided by
 * the number of valid samples, rounded to 3 decimals.
 */
import type { LabelPlan } from '../../config/structured-plan.js';

export interface Vote {
  /** The majority answer: a label, a list of labels, or a whole answer object. */
  majority: unknown;
  agreement: number;
  valid: number;
}

export function vote(answers: readonly unknown[], labels?: LabelPlan): Vote | null {
  const valid = answers.filter((a) => a !== null && a !== undefined);
  if (valid.length === 0) return null;
  if (labels?.multi) return voteMulti(valid as string[][], labels.values);
  if (labels) return voteSingle(valid as string[], labels.values);
  return voteAnswers(valid);
}

function voteSingle(valid: string[], order: readonly string[]): Vote {
  const counts = new Map<string, number>();
  for (const a of valid) counts.set(a, (counts.get(a) ?? 0) + 1);
  let best: string | undefined;
  for (const label of order) {
    const n = counts.get(label) ?? 0;
    if (n > 0 && (best === undefined || n > counts.get(best)!)) best = label;
  }
  // Every valid answer is one of the labels (the schema saw to that), so `best` is set.
  return { majority: best, agreement: ratio(counts.get(best!) ?? 0, valid.length), valid: valid.length };
}

function voteMulti(valid: string[][], order: readonly string[]): Vote {
  const sets = valid.map((a) => new Set(a));
  const majority = order.filter((label) => sets.filter((s) => s.has(label)).length * 2 > valid.length);
  const same = sets.filter((s) => s.size === majority.length && majority.every((l) => s.has(l))).length;
  return { majority, agreement: ratio(same, valid.length), valid: valid.length };
}

function voteAnswers(valid: unknown[]): Vote {
  const counts = new Map<string, { n: number; answer: unknown }>();
  for (const a of valid) {
    const key = canonicalJson(a);
    const entry = counts.get(key);
    if (entry) entry.n++;
    else counts.set(key, { n: 1, answer: a });
  }
  let best: { n: number; answer: unknown } | undefined;
  // Map order is first-seen order, so `>` keeps the earliest answer on a tie.
  for (const entry of counts.values()) if (!best || entry.n > best.n) best = entry;
  return { majority: best!.answer, agreement: ratio(best!.n, valid.length), valid: valid.length };
}

/** JSON with object keys sorted, so that `{a, b}` and `{b, a}` count as the same answer. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Whether a sample's answer is the majority: the label vote compares label sets, not list order. */
export function sameAnswer(a: unknown, b: unknown, labels?: LabelPlan): boolean {
  if (labels?.multi && Array.isArray(a) && Array.isArray(b)) {
    const s = new Set(a);
    return new Set(b).size === s.size && b.every((x) => s.has(x));
  }
  return canonicalJson(a) === canonicalJson(b);
}

function ratio(n: number, of: number): number {
  return Math.round((n / of) * 1000) / 1000;
}
