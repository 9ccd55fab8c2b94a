/**
 * The answer schema for a labeling job, built from its `labels`. Pure. The schema keeps to what
 * strict structured output accepts: every property required, `additionalProperties: false`, and
 * only `type`, `enum`, `items`, `minItems` and `description`.
 */
import type { LabelsConfig } from './structured.js';

export function labelField(labels: Pick<LabelsConfig, 'multi' | 'field'>): string {
  return labels.field ?? (labels.multi ? 'labels' : 'label');
}

export function labelSchema(labels: LabelsConfig): Record<string, unknown> {
  const value: Record<string, unknown> = { type: 'string', enum: [...labels.values] };
  const property: Record<string, unknown> = labels.multi
    ? // An empty list is a valid multi-label answer: "none of these apply".
      { type: 'array', items: value, ...(labels.description ? { description: labels.description } : {}) }
    : { ...value, ...(labels.description ? { description: labels.description } : {}) };
  const field = labelField(labels);
  return { type: 'object', properties: { [field]: property }, required: [field], additionalProperties: false };
}
