/**
 * Checks every item gets after its reader made it, whatever the input kind. Pure: no I/O.
 */
import type { ItemRequest } from '../core/item.js';

/**
 * The size of an item's request text in bytes (UTF-8): the prompt, or the JSON of the input or body.
 * Image data is not counted: files are read by the workers, and inline `data:` URLs and `file_data`
 * have limits of their own in the spec; a URL or path counts as its text.
 */
export function requestTextBytes(request: ItemRequest): number {
  if (request.kind === 'prompt') return Buffer.byteLength(request.text, 'utf8');
  const value = request.kind === 'input' ? request.input : request.body;
  return Buffer.byteLength(JSON.stringify(value, withoutInlineData) ?? '', 'utf8');
}

/** A JSON.stringify replacer that counts inline file data as nothing. */
function withoutInlineData(key: string, value: unknown): unknown {
  if ((key === 'image_url' || key === 'url') && typeof value === 'string' && value.startsWith('data:')) return '';
  if (key === 'file_data' && typeof value === 'string') return '';
  return value;
}

/** Why an item cannot be sent because of its size, or null. */
export function sizeProblem(request: ItemRequest, maxItemBytes: number): string | null {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: most prompts are far below the limit without counting.
  if (request.kind === 'prompt' && request.text.length * 3 <= maxItemBytes) return null;
  const bytes = requestTextBytes(request);
  if (bytes <= maxItemBytes) return null;
  return `the item is ${bytes} bytes of text, over the limit of ${maxItemBytes} bytes (max_item_bytes)`;
}

/** The model an item's request names, else the run's; null when neither names one. */
export function modelOf(request: ItemRequest, runModel: string | null): string | null {
  if (request.kind === 'body') {
    const model = request.body['model'];
    if (typeof model === 'string' && model !== '') return model;
  }
  return runModel;
}

/** Why an item has no model to be sent with, or null. */
export function modelProblem(request: ItemRequest, runModel: string | null): string | null {
  if (modelOf(request, runModel) !== null) return null;
  return request.kind === 'body'
    ? 'the request body names no model and the run has none (set `model` or --model)'
    : 'the run has no model (set `model` or --model); only batch request lines can name their own';
}

/**
 * The model part of a run's start line. It is said before reading, so it says where models come from;
 * the models actually used are logged once the inputs are read (InputTally).
 */
export function describeRunModel(model: string | undefined, inputs: readonly string[]): string {
  if (model === undefined) return 'models named by the input lines';
  const mayNameModels = inputs.some((input) => /\.(jsonl|ndjson)$/i.test(input) || /[*?{[]/.test(input));
  return mayNameModels ? `model ${model} (batch request lines naming a model use theirs)` : `model ${model}`;
}
