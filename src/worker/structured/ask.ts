/**
 * Asks for one item's structured answer: one call per sample, each asked again (up to
 * `invalidRetries` times) while its answer does not match the schema, then the vote. The calls
 * themselves come from the caller (`askOnce`), so this module decides only what to ask and what the
 * line says. API errors thrown by `askOnce` pass through untouched; the samples finished before one
 * are handed to `onSample`, so that the retried attempt can go on from there (`done`).
 */
import { structuredFields, type StructuredExtra, type StructuredFields } from '../../core/results-line.js';
import type { ParsedResponse } from '../parse-response.js';
import type { StructuredPlan } from '../../config/structured-plan.js';
import { sumUsage } from './usage-sum.js';
import { checkAnswer } from './validate.js';
import { sameAnswer, vote } from './vote.js';

/** One answered call, as the processor read it. `T` is whatever the caller keeps of the raw answer. */
export interface Answer<T = unknown> {
  response: ParsedResponse;
  raw: T;
}

/**
 * `key` is the call's Idempotency-Key: the job id for the first call, then the job id with `-s<n>`
 * (sample n, from 2) and/or `-r<n>` (re-ask n) appended, so that every call is a distinct request for
 * a server that de-duplicates, and the same call again after a crash has the same key.
 */
export type AskOnce<T> = (key: string) => Promise<Answer<T>>;

export interface StructuredOutcome<T> {
  /** The answer the line reports: the majority's first sample, or the last invalid one. */
  answer: Answer<T>;
  /** Fields that replace the single-call line's (status, output_text, parsed, usage, ...). */
  fields: StructuredFields;
}

export function callKey(jobId: string, sample: number, retry: number): string {
  return `${jobId}${sample > 0 ? `-s${sample + 1}` : ''}${retry > 0 ? `-r${retry}` : ''}`;
}

/**
 * One finished sample. JSON-safe when `T` is: the processor saves the finished samples of an item
 * in its job, so that an attempt that fails at sample 3 (a 500, a timeout) goes on from sample 3
 * instead of paying for samples 1 and 2 again.
 */
export interface SampleResult<T> {
  answer: Answer<T>;
  ok: boolean;
  value: unknown;
  reason: string;
  /** Usage of each call of this sample (its re-asks included). */
  usages: Array<ParsedResponse['usage']>;
  invalid: number;
}

export interface AskOptions<T> {
  /** Samples finished by an earlier attempt of the same job, in order. */
  done?: ReadonlyArray<SampleResult<T>>;
  /** Called after each sample but the last, with every finished sample. */
  onSample?: (done: ReadonlyArray<SampleResult<T>>) => Promise<void>;
}

export async function askStructured<T>(plan: StructuredPlan, jobId: string, askOnce: AskOnce<T>, opts: AskOptions<T> = {}): Promise<StructuredOutcome<T>> {
  const results: SampleResult<T>[] = (opts.done ?? []).slice(0, plan.samples);
  for (let s = results.length; s < plan.samples; s++) {
    const sampleUsages: Array<ParsedResponse['usage']> = [];
    let sampleInvalid = 0;
    for (let r = 0; ; r++) {
      const answer = await askOnce(callKey(jobId, s, r));
      sampleUsages.push(answer.response.usage);
      // A cut-off answer is the `incomplete` line it always was: asking again would be cut off too.
      if (answer.response.status === 'incomplete') {
        return incompleteOutcome(answer, [...results.flatMap((x) => x.usages), ...sampleUsages], sampleInvalid + results.reduce((n, x) => n + x.invalid, 0));
      }
      const check = checkAnswer(answer.response.outputText, answer.response.refusal, plan.schema);
      if (!check.ok) sampleInvalid++;
      if (check.ok || r >= plan.invalidRetries) {
        results.push({ answer, ok: check.ok, value: check.value, reason: check.ok ? '' : check.reason, usages: sampleUsages, invalid: sampleInvalid });
        break;
      }
    }
    if (s + 1 < plan.samples) await opts.onSample?.(results);
  }
  const usages = results.flatMap((x) => x.usages);
  const invalid = results.reduce((n, x) => n + x.invalid, 0);
  const usage = sumUsage(usages);
  const extra = countsOf(invalid, usages.length);
  if (plan.samples === 1) {
    const only = results[0]!;
    return only.ok ? validOutcome(only.answer, only.value, usage, extra) : invalidOutcome(only, usage, extra);
  }

  const answers = results.map((x) => (x.ok ? voteValue(x.value, plan) : null));
  const result = vote(answers, plan.labels);
  if (!result) {
    const outcome = invalidOutcome(results[results.length - 1]!, usage, extra);
    outcome.fields.samples = { n: plan.samples, valid: 0, answers, majority: null, agreement: 0 };
    return outcome;
  }
  const chosen = results.find((x, i) => x.ok && sameAnswer(answers[i], result.majority, plan.labels)) ?? results.find((x) => x.ok)!;
  const parsed = plan.labels ? { [plan.labels.field]: result.majority } : result.majority;
  const outcome = validOutcome(chosen.answer, parsed, usage, extra);
  outcome.fields.samples = { n: plan.samples, valid: result.valid, answers, majority: result.majority, agreement: result.agreement };
  return outcome;
}

/** What a sample votes with: the label field for a labeling job, the whole answer otherwise. */
function voteValue(value: unknown, plan: StructuredPlan): unknown {
  return plan.labels ? (value as Record<string, unknown>)[plan.labels.field] : value;
}

function validOutcome<T>(answer: Answer<T>, parsed: unknown, usage: ParsedResponse['usage'], extra: StructuredExtra): StructuredOutcome<T> {
  return { answer, fields: structuredFields.valid(answer.response, parsed, usage, extra) };
}

function invalidOutcome<T>(last: SampleResult<T>, usage: ParsedResponse['usage'], extra: StructuredExtra): StructuredOutcome<T> {
  return { answer: last.answer, fields: structuredFields.invalid(last.answer.response, last.value, usage, last.reason, extra) };
}

function incompleteOutcome<T>(answer: Answer<T>, usages: ReadonlyArray<ParsedResponse['usage']>, invalid: number): StructuredOutcome<T> {
  return { answer, fields: structuredFields.incomplete(answer.response, sumUsage(usages), countsOf(invalid, usages.length)) };
}

/** Re-asks and calls, reported only when they say something. */
function countsOf(invalid: number, calls: number): StructuredExtra {
  return { ...(invalid > 0 ? { invalid_answers: invalid } : {}), ...(calls > 1 ? { calls } : {}) };
}
