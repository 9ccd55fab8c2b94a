/**
 * The usage of an item that took several calls (samples, answers asked again): every number summed,
 * nested objects (`input_tokens_details`, ...) field by field. Pure. Non-numeric extra keys keep the
 * first call's value.
 */
import type { Usage } from '../../core/output-line.js';

export function sumUsage(all: ReadonlyArray<Usage | null>): Usage | null {
  const present = all.filter((u): u is Usage => u !== null);
  if (present.length === 0) return null;
  if (present.length === 1) return present[0]!;
  return present.reduce((acc, u) => addInto(structuredClone(acc), u) as Usage);
}

function addInto(target: Record<string, unknown>, source: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(source)) {
    const existing = target[key];
    if (typeof value === 'number' && (typeof existing === 'number' || existing === undefined)) target[key] = (existing ?? 0) + value;
    else if (isObj(value) && (isObj(existing) || existing === undefined)) target[key] = addInto(isObj(existing) ? existing : {}, value);
    else if (existing === undefined) target[key] = value;
  }
  return target;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
