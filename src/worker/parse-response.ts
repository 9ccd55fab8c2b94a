/**
 * Reads a `ResponseResource` (spec §3) into the few facts a results line needs. Pure and lenient: real
 * servers (and the spec's own example) omit "required" fields, add provider-prefixed item types
 * (`acme:...`) and extra keys, so nothing here throws on an unexpected shape.
 */
import type { Usage } from '../core/output-line.js';

export interface ParsedResponse {
  /** `rawStatus` folded to what the worker acts on; queued/in_progress/cancelled/unknown are 'other'. */
  status: 'completed' | 'incomplete' | 'failed' | 'other';
  /** `status` as the server sent it, or a description of why the body could not be read as a response. */
  rawStatus: string;
  responseId: string | null;
  model: string | null;
  /** Every `output_text` part of every assistant message, in order, joined with ''. Null when there was none. */
  outputText: string | null;
  /** Every `refusal` part, joined the same way. */
  refusal: string | null;
  /** Exactly as returned (extra keys such as a router's cost kept), or null. */
  usage: Usage | null;
  incompleteReason: string | null;
  error: { code: string; message: string } | null;
  /** JSON.parse(outputText), when JSON output was requested and the response completed. */
  parsed?: unknown;
  /** The tier that served the call, as the response's `service_tier` says; null when it says none. */
  serviceTier: string | null;
  /** Why `parsed` is absent although JSON output was requested and the response completed. */
  parseError?: string;
}

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function strOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function describeNonObject(json: unknown): string {
  const kind = json === null ? 'null' : Array.isArray(json) ? 'an array' : `a ${typeof json}`;
  return `(not a response object: got ${kind})`;
}

/** Collects output text and refusals from the assistant messages, skipping every other item type. */
function collectMessages(output: unknown): { texts: string[]; refusals: string[] } {
  const texts: string[] = [];
  const refusals: string[] = [];
  if (!Array.isArray(output)) return { texts, refusals };
  for (const item of output) {
    // reasoning, function_call, compaction and unknown (`acme:...`) items carry no answer text.
    if (!isObj(item) || item['type'] !== 'message') continue;
    // A missing role is read as assistant: some servers leave it out of their own output.
    if (item['role'] !== undefined && item['role'] !== 'assistant') continue;
    const content = item['content'];
    if (typeof content === 'string') {
      // Not valid in an output item, but harmless to accept (input-style assistant message).
      texts.push(content);
      continue;
    }
    if (!Array.isArray(content)) continue;
    for (const part of content) {
      if (!isObj(part)) continue;
      if (part['type'] === 'output_text' && typeof part['text'] === 'string') texts.push(part['text']);
      else if (part['type'] === 'refusal' && typeof part['refusal'] === 'string') refusals.push(part['refusal']);
    }
  }
  return { texts, refusals };
}

function foldStatus(raw: string | null): ParsedResponse['status'] {
  return raw === 'completed' || raw === 'incomplete' || raw === 'failed' ? raw : 'other';
}

function readError(json: Obj, status: ParsedResponse['status']): ParsedResponse['error'] {
  const error = json['error'];
  if (isObj(error)) {
    const code = error['code'];
    return {
      code: typeof code === 'string' ? code : code === undefined || code === null ? 'unknown' : String(code),
      message: strOrNull(error['message']) ?? '',
    };
  }
  // A failed response must always explain itself in the results line, even when the server did not.
  return status === 'failed' ? { code: 'unknown', message: 'the response failed without error details' } : null;
}

export function parseResponse(json: unknown, wantsJson: boolean): ParsedResponse {
  if (!isObj(json)) {
    return {
      status: 'other',
      rawStatus: describeNonObject(json),
      responseId: null,
      model: null,
      outputText: null,
      refusal: null,
      usage: null,
      incompleteReason: null,
      error: null,
      serviceTier: null,
    };
  }

  const raw = strOrNull(json['status']);
  const status = foldStatus(raw);
  const { texts, refusals } = collectMessages(json['output']);
  const incomplete = json['incomplete_details'];
  const usage = json['usage'];

  const result: ParsedResponse = {
    status,
    rawStatus: raw ?? '(missing status)',
    responseId: strOrNull(json['id']),
    model: strOrNull(json['model']),
    outputText: texts.length > 0 ? texts.join('') : null,
    refusal: refusals.length > 0 ? refusals.join('') : null,
    // Kept by reference and unvalidated: the results line promises usage exactly as the API sent it.
    usage: isObj(usage) ? (usage as Usage) : null,
    incompleteReason: isObj(incomplete) ? strOrNull(incomplete['reason']) : null,
    error: readError(json, status),
    serviceTier: strOrNull(json['service_tier']),
  };

  if (wantsJson && status === 'completed') {
    if (result.outputText === null) {
      result.parseError = result.refusal !== null ? 'no output text to parse as JSON (the model refused)' : 'no output text to parse as JSON';
    } else {
      try {
        result.parsed = JSON.parse(result.outputText);
      } catch (err) {
        result.parseError = `output text is not valid JSON: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
  }
  return result;
}
