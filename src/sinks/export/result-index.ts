/**
 * The results side of `respool export`: one small record per custom_id, read from a results file
 * line by line (respool lines, or provider batch lines). Only what the export writes is kept, so
 * memory follows the number of results, not their size.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { isBatchLine, readBatchLine } from './batch-line.js';
import { flattenParsed, type Flat } from './flatten.js';

export interface ResultRecord {
  status: string;
  /** `parsed`, flattened into columns. */
  fields: Flat;
  error: string | null;
  /** `cost.total`, when the line has a cost. */
  cost: number | null;
  agreement: number | null;
}

export interface ResultIndex {
  byId: Map<string, ResultRecord>;
  /** Column names of the flattened answers, in the order first seen. */
  fieldNames: string[];
  hasSamples: boolean;
  /** Lines that were not JSON objects with a custom_id (a torn last line, a stray line). */
  unreadable: number;
  /** custom_ids seen on more than one line (the later line wins). */
  repeated: number;
}

export async function readResultIndex(file: string): Promise<ResultIndex> {
  const index: ResultIndex = { byId: new Map(), fieldNames: [], hasSamples: false, unreadable: 0, repeated: 0 };
  const names = new Set<string>();
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const text of lines) {
    if (text.trim() === '') continue;
    const record = recordOf(text);
    if (!record) {
      index.unreadable++;
      continue;
    }
    if (index.byId.has(record.id)) index.repeated++;
    index.byId.set(record.id, record.result);
    for (const name of Object.keys(record.result.fields)) {
      if (!names.has(name)) {
        names.add(name);
        index.fieldNames.push(name);
      }
    }
    if (record.result.agreement !== null) index.hasSamples = true;
  }
  return index;
}

type Obj = Record<string, unknown>;

function recordOf(text: string): { id: string; result: ResultRecord } | null {
  let line: unknown;
  try {
    line = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObj(line) || typeof line.custom_id !== 'string') return null;
  return { id: line.custom_id, result: isBatchLine(line) ? fromBatchLine(line) : fromRespoolLine(line) };
}

function fromRespoolLine(line: Obj): ResultRecord {
  const error = isObj(line.error) && typeof line.error.message === 'string' ? line.error.message : null;
  const cost = isObj(line.cost) && typeof line.cost.total === 'number' ? line.cost.total : null;
  const agreement = isObj(line.samples) && typeof line.samples.agreement === 'number' ? line.samples.agreement : null;
  // Only a completed line's answer is one: an invalid_output line's `parsed` is what failed the check.
  const fields = line.status === 'completed' ? flattenParsed(line.parsed) : {};
  return { status: String(line.status), fields, error, cost, agreement };
}

/** A provider batch output line (./batch-line.ts): the answer is the body's output text, parsed when it is JSON. */
function fromBatchLine(line: Obj): ResultRecord {
  const view = readBatchLine(line);
  if (view.status !== 'completed' && view.status !== 'incomplete') {
    return { status: view.status, fields: {}, error: view.errorMessage, cost: null, agreement: null };
  }
  const text = outputText(view.body?.output);
  let parsed: unknown = null;
  if (text !== null) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  return { status: view.status, fields: flattenParsed(parsed), error: null, cost: null, agreement: null };
}

function outputText(output: unknown): string | null {
  if (!Array.isArray(output)) return null;
  const parts: string[] = [];
  for (const item of output) {
    if (!isObj(item) || item.type !== 'message' || !Array.isArray(item.content)) continue;
    for (const part of item.content) if (isObj(part) && part.type === 'output_text' && typeof part.text === 'string') parts.push(part.text);
  }
  return parts.length > 0 ? parts.join('') : null;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
